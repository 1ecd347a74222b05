"""Messages to parties (SMS, e-mail): queued in the caller's transaction, sent after it commits.

- `queue_message` adds a row to the outbox (models/message.py) in the caller's transaction: an action
  never waits for a provider, and a message is never sent for a transaction that rolled back.
- `send_due` (one pass over the outbox: run by the sender thread of `tiaojie serve` and `tiaojie
  worker`, runtime/sender.py, and by tests with their own `now`) claims each due message, hands it to
  the sender the settings choose, and records the outcome: sent (with the provider's message id), again
  later after a transient failure (backoff: models.message.RETRY_DELAYS), or failed (a permanent
  refusal, or every attempt spent).
- Senders: `file` (the default, embedded: one JSON line per message in {data_dir}/messages/sms.log or
  email.log), `http` for an SMS provider (TIAOJIE_SMS_HTTP_URL: GET of a URL template with {to} and
  {text}, or a JSON POST of {"id", "to", "text"}), SMTP for e-mail (TIAOJIE_SMTP_URL).
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
from sqlalchemy import and_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import record
from models.db import session_scope, utcnow
from models.enums import MessageChannel, MessageStatus
from models.message import SENDING_LEASE, Message, next_attempt
from models.settings import Settings, get_settings
from models.validation import ValidationError, validate_id_number

log = logging.getLogger("tiaojie.messages")


def queue_message(
    session: Session,
    *,
    channel: str,
    to: str,
    body: str,
    purpose: str,
    now: datetime,
    case_id: int | None = None,
    party_id: int | None = None,
    subject: str | None = None,
    key: str | None = None,
) -> Message:
    """Add a message to the outbox in the caller's transaction; it is sent once that commits.
    `channel`: "sms" or "email"; `to`: the phone number or e-mail address; the body must hold no ID
    number (it leaves our hands). The audit names the purpose and channel, not the address or text.
    `key`: for a flow that may run again, the message already queued under it is returned instead."""
    channel = MessageChannel(channel)
    if holds_id_number(body):
        raise ValueError("message body holds an ID number: it must not leave the center")
    if key is not None:
        existing = session.exec(select(Message).where(Message.key == key)).first()
        if existing is not None:
            return existing
    message = Message(
        key=key,
        channel=channel,
        to=to.strip(),
        subject=subject,
        body=body,
        purpose=purpose,
        case_id=case_id,
        party_id=party_id,
        status=MessageStatus.queued,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    session.flush()  # its id: the audit row and the caller (a signing code names its message)
    record(
        session,
        actor_id=None,
        actor_name="system",
        action="message.queue",
        entity="message",
        entity_id=message.id,
        case_id=case_id,
        after={"channel": channel.value, "purpose": purpose, "party_id": party_id},
        at=now,
    )
    return message


_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def holds_id_number(text: str) -> bool:
    """Whether `text` holds a valid 18-digit 公民身份号码 (checksum right): never in a message."""
    for candidate in _ID_LIKE.findall(text):
        try:
            validate_id_number(candidate)
        except ValidationError:
            continue
        return True
    return False


# --- senders -------------------------------------------------------------------------------------


class SendFailed(Exception):
    """The provider did not take the message. `permanent`: trying again cannot help (a refused number)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    to: str
    subject: str | None
    body: str


class Sender(Protocol):
    def send(self, message: Outgoing) -> str:
        """Deliver to the provider; answer its message id; raise SendFailed."""
        ...


class FileSender:
    """Embedded default: appends one JSON line per message (no provider needed; staff or a test read it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: Outgoing) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = {"id": message.id, "to": message.to, "subject": message.subject, "body": message.body}
        # 0600: the lines hold phone numbers and the texts (one-time signing codes among them).
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return f"file:{message.id}"


class HttpSmsSender:
    """An SMS provider's HTTP API. A URL with {to}/{text} placeholders is fetched with GET (each value
    URL-encoded; {id} is our message id); any other URL gets a JSON POST {"id", "to", "text"}. A 2xx answer
    is taken; its JSON `id`/`message_id`/`msgid` is the provider's id. 5xx, 429 and no answer are
    transient (retried), any other answer permanent."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, message: Outgoing) -> str:
        try:
            if "{to}" in self.url or "{text}" in self.url:
                url = self.url.format(
                    to=quote(message.to, safe=""), text=quote(message.body, safe=""), id=message.id
                )
                response = httpx.get(url, timeout=self.timeout)
            else:
                payload = {"id": message.id, "to": message.to, "text": message.body}
                response = httpx.post(self.url, json=payload, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise SendFailed(f"短信接口无应答：{type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise SendFailed(f"短信接口暂不可用（HTTP {response.status_code}）")
        if not 200 <= response.status_code < 300:
            raise SendFailed(f"短信接口拒绝（HTTP {response.status_code}）", permanent=True)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            for field in ("id", "message_id", "msgid"):
                if answer.get(field) not in (None, ""):
                    return str(answer[field])[:200]
        return f"http:{message.id}"


class SmtpSender:
    """E-mail over SMTP: smtp://[user:password@]host[:port][?starttls=true], or smtps:// (TLS from the
    start). Refused connections and 4xx answers are transient; 5xx answers permanent."""

    def __init__(self, url: str, *, mail_from: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("TIAOJIE_SMTP_URL 应形如 smtp://用户:密码@主机:端口")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        query = parse_qs(parts.query)
        self.starttls = query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        self.mail_from = mail_from
        self.timeout = timeout

    def send(self, message: Outgoing) -> str:
        mail = EmailMessage()
        mail["From"] = self.mail_from
        mail["To"] = message.to
        mail["Subject"] = message.subject or "调解事项通知"
        msgid = make_msgid(domain=self.mail_from.rpartition("@")[2] or "localhost")
        mail["Message-ID"] = msgid
        mail.set_content(message.body)
        try:
            if self.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self.password or "")
                client.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(f"邮件服务器拒绝（{exc.smtp_code}）", permanent=exc.smtp_code >= 500) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendFailed("邮件服务器拒收该收件地址", permanent=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"邮件服务器无应答：{type(exc).__name__}") from exc
        return msgid


def sender_for(channel: str, settings: Settings | None = None) -> Sender:
    """The sender the settings choose for a channel."""
    settings = settings or get_settings()
    folder = settings.data_dir / "messages"
    if channel == MessageChannel.email:
        if settings.smtp_url:
            return SmtpSender(settings.smtp_url, mail_from=settings.mail_from)
        return FileSender(folder / "email.log")
    if settings.sms_backend == "http":
        if not settings.sms_http_url:
            raise ValueError("TIAOJIE_SMS_BACKEND=http 需要设置 TIAOJIE_SMS_HTTP_URL")
        return HttpSmsSender(settings.sms_http_url)
    return FileSender(folder / "sms.log")


# --- one sending pass ------------------------------------------------------------------------------


def _due(now: datetime):
    """Queued and due, or claimed by a sender whose lease ran out (it died mid-send)."""
    return and_(
        col(Message.status).in_((MessageStatus.queued, MessageStatus.sending)),
        col(Message.next_attempt_at) <= now,
    )


def _claim(engine: Engine, message_id: int, now: datetime) -> Outgoing | None:
    """Take one due message for this sender (atomic: of several senders one gets it)."""
    with session_scope(engine, write=True) as session:
        taken = session.exec(
            update(Message)
            .where(col(Message.id) == message_id, _due(now))
            .values(
                status=MessageStatus.sending,
                next_attempt_at=now + SENDING_LEASE,
                attempts=Message.attempts + 1,
            )
        ).rowcount
        if not taken:
            return None
        row = session.get(Message, message_id)
        assert row is not None
        return Outgoing(id=message_id, channel=row.channel, to=row.to, subject=row.subject, body=row.body)


def _finish(
    engine: Engine, message_id: int, now: datetime, *, provider_id: str | None, error: SendFailed | None
) -> str:
    with session_scope(engine, write=True) as session:
        message = session.get(Message, message_id)
        assert message is not None
        if error is None:
            message.status, message.sent_at, message.provider_id = MessageStatus.sent, now, provider_id
            message.last_error = None
        else:
            retry_at = None if error.permanent else next_attempt(message.attempts, now)
            message.last_error = f"第{message.attempts}次：{error}"[:2000]
            if retry_at is None:
                message.status = MessageStatus.failed
            else:
                message.status, message.next_attempt_at = MessageStatus.queued, retry_at
        session.add(message)
        if message.status != MessageStatus.queued:  # the outcome, not every attempt
            record(
                session,
                actor_id=None,
                actor_name="system",
                action=f"message.{message.status}",
                entity="message",
                entity_id=message_id,
                case_id=message.case_id,
                after={"attempts": message.attempts, "provider_id": message.provider_id},
                at=now,
            )
        return message.status


def send_due(engine: Engine, *, now: datetime | None = None, limit: int = 50) -> dict[str, int]:
    """Send every message due at `now` (one pass). Answers how many ended sent, queued again, failed."""
    now = now or utcnow()
    outcome = {"sent": 0, "queued": 0, "failed": 0}
    with Session(engine) as session:  # a plain read first: an idle pass takes no write lock
        ids = session.exec(
            select(Message.id).where(_due(now)).order_by(col(Message.next_attempt_at)).limit(limit)
        ).all()
    for message_id in ids:
        assert message_id is not None
        outgoing = _claim(engine, message_id, now)
        if outgoing is None:
            continue  # another sender took it
        provider_id, error = None, None
        try:
            provider_id = sender_for(outgoing.channel).send(outgoing)
        except SendFailed as exc:
            error = exc
        except Exception as exc:  # a misconfigured sender: keep the message, say what broke
            log.exception("sending message %s failed", message_id)
            error = SendFailed(f"发送程序出错：{type(exc).__name__}")
        if error is not None:
            log.warning("message %s not sent: %s", message_id, error)
        status = _finish(engine, message_id, now, provider_id=provider_id, error=error)
        outcome[status if status in outcome else "queued"] += 1
    return outcome
