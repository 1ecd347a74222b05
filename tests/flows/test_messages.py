"""The message outbox and its senders, against real local servers: an SMTP server (aiosmtpd) that is not
there at the first attempt, an HTTP receiver whose first answer is 503, and the file sender's line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows.messages import queue_message, send_due
from models.audit import AuditEvent
from models.db import session_scope
from models.message import Message
from models.settings import get_settings
from tests.servers import free_port

# The outbox's claims and updates are SQL that differs between the databases.
pytestmark = pytest.mark.postgres

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """Each test its own data dir and senders (the settings are read once: cleared around)."""
    monkeypatch.setenv("TIAOJIE_DATA_DIR", str(tmp_path / "data"))
    for name in ("TIAOJIE_SMS_BACKEND", "TIAOJIE_SMS_HTTP_URL", "TIAOJIE_SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _queue(engine: Engine, **fields) -> int:
    with session_scope(engine, write=True) as session:
        message = queue_message(session, now=NOW, **fields)
        assert message.id is not None
        return message.id


def _message(engine: Engine, message_id: int) -> Message:
    with Session(engine) as session:
        row = session.get(Message, message_id)
        assert row is not None
        return row


def test_file_sender_writes_one_json_line_per_message(engine: Engine, settings_env) -> None:
    mid = _queue(engine, channel="sms", to="13800000001", body="您的案件将于12月9日调解", purpose="test")
    # Nothing leaves before the sender runs (the action's transaction only queued it).
    assert _message(engine, mid).status == "queued"
    assert send_due(engine, now=NOW) == {"sent": 1, "queued": 0, "failed": 0}
    log = get_settings().data_dir / "messages" / "sms.log"
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert (line["id"], line["to"], line["body"]) == (mid, "13800000001", "您的案件将于12月9日调解")
    assert log.stat().st_mode & 0o777 == 0o600
    sent = _message(engine, mid)
    assert (sent.status, sent.attempts, sent.provider_id, sent.sent_at) == ("sent", 1, f"file:{mid}", NOW)
    # Sent once: a second pass sends nothing again.
    assert send_due(engine, now=NOW + timedelta(hours=1)) == {"sent": 0, "queued": 0, "failed": 0}
    assert len(log.read_text(encoding="utf-8").splitlines()) == 1
    with Session(engine) as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.entity == "message")).all()
    assert [a.action for a in audit] == ["message.queue", "message.sent"]
    # The audit keeps neither the number nor the text.
    assert all("13800000001" not in json.dumps(a.after) and "调解" not in json.dumps(a.after) for a in audit)


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int]
    seen: list[dict]

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        self.seen.append({k: v[0] for k, v in query.items()})
        status = self.answers.pop(0) if self.answers else 200
        body = json.dumps({"message_id": f"prov-{len(self.seen)}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.seen.append(json.loads(self.rfile.read(length)))
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"answers": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_http_sms_sender_retries_after_503_then_delivers(engine: Engine, settings_env, receiver) -> None:
    base, handler = receiver
    handler.answers = [503]
    settings_env.setenv("TIAOJIE_SMS_BACKEND", "http")
    settings_env.setenv("TIAOJIE_SMS_HTTP_URL", base + "/send?to={to}&text={text}")
    get_settings.cache_clear()
    mid = _queue(
        engine, channel="sms", to="13800000002", body="调解改期：12月10日 9:00 & 地点不变", purpose="t"
    )

    assert send_due(engine, now=NOW) == {"sent": 0, "queued": 1, "failed": 0}
    first = _message(engine, mid)
    assert (first.status, first.attempts) == ("queued", 1)
    assert "503" in (first.last_error or "")
    assert first.next_attempt_at == NOW + timedelta(seconds=30)  # the first backoff step
    # Not due yet: nothing is tried before the backoff ends.
    assert send_due(engine, now=NOW + timedelta(seconds=29)) == {"sent": 0, "queued": 0, "failed": 0}
    assert len(handler.seen) == 1

    assert send_due(engine, now=NOW + timedelta(seconds=30)) == {"sent": 1, "queued": 0, "failed": 0}
    done = _message(engine, mid)
    assert (done.status, done.attempts, done.provider_id) == ("sent", 2, "prov-2")
    # The text arrived whole, its "&" and spaces encoded in the URL.
    assert handler.seen[-1] == {"to": "13800000002", "text": "调解改期：12月10日 9:00 & 地点不变"}


def test_http_post_and_a_permanent_refusal(engine: Engine, settings_env, receiver) -> None:
    base, handler = receiver
    handler.answers = [200, 400]
    settings_env.setenv("TIAOJIE_SMS_BACKEND", "http")
    settings_env.setenv("TIAOJIE_SMS_HTTP_URL", base + "/v1/sms")
    get_settings.cache_clear()
    ok = _queue(engine, channel="sms", to="13800000003", body="甲", purpose="t")
    refused = _queue(engine, channel="sms", to="1380000000", body="乙", purpose="t")
    assert send_due(engine, now=NOW) == {"sent": 1, "queued": 0, "failed": 1}
    assert handler.seen == [
        {"id": ok, "to": "13800000003", "text": "甲"},
        {"id": refused, "to": "1380000000", "text": "乙"},
    ]
    assert _message(engine, ok).provider_id == f"http:{ok}"
    gone = _message(engine, refused)
    assert (gone.status, gone.attempts) == ("failed", 1)  # a 400 is not tried again
    assert "400" in (gone.last_error or "")


def test_every_attempt_spent_fails_the_message(engine: Engine, settings_env) -> None:
    settings_env.setenv("TIAOJIE_SMS_BACKEND", "http")
    settings_env.setenv(
        "TIAOJIE_SMS_HTTP_URL", f"http://127.0.0.1:{free_port()}/send?to={{to}}&text={{text}}"
    )
    get_settings.cache_clear()
    mid = _queue(engine, channel="sms", to="13800000004", body="丙", purpose="t")
    now = NOW
    # Backoff 30 s, 2 min, 10 min, 30 min, 2 h (models/message.RETRY_DELAYS): six attempts.
    for step in (
        timedelta(0),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=2),
    ):
        now += step
        send_due(engine, now=now)
    final = _message(engine, mid)
    assert (final.status, final.attempts) == ("failed", 6)
    assert final.last_error is not None and final.last_error.startswith("第6次")


@pytest.fixture
def smtp_port() -> int:
    return free_port()


def test_smtp_sender_refused_first_then_delivered_to_real_server(
    engine: Engine, settings_env, smtp_port: int
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as MessageHandler

    received: list = []

    class Keep(MessageHandler):
        def handle_message(self, message) -> None:
            received.append(message)

    settings_env.setenv("TIAOJIE_SMTP_URL", f"smtp://127.0.0.1:{smtp_port}")
    settings_env.setenv("TIAOJIE_MAIL_FROM", "center@tiaojie.test")
    get_settings.cache_clear()
    mid = _queue(
        engine,
        channel="email",
        to="worker@example.test",
        subject="调解通知",
        body="王某某：请于12月9日到中心调解。",
        purpose="t",
    )
    # No server listens yet: the connection is refused, the message waits for its next attempt.
    assert send_due(engine, now=NOW) == {"sent": 0, "queued": 1, "failed": 0}
    assert "ConnectionRefusedError" in (_message(engine, mid).last_error or "")

    controller = Controller(Keep(message_class=None), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        assert send_due(engine, now=NOW + timedelta(seconds=30)) == {"sent": 1, "queued": 0, "failed": 0}
    finally:
        controller.stop()
    assert len(received) == 1
    mail = message_from_bytes(received[0].as_bytes(), policy=default_policy)
    assert mail["To"] == "worker@example.test"
    assert mail["From"] == "center@tiaojie.test"
    assert mail["Subject"] == "调解通知"
    assert mail.get_content().strip() == "王某某：请于12月9日到中心调解。"
    sent = _message(engine, mid)
    assert (sent.status, sent.attempts, sent.provider_id) == ("sent", 2, mail["Message-ID"])


def test_a_body_with_an_id_number_is_never_queued(engine: Engine) -> None:
    from models.validation import make_id_number

    with session_scope(engine, write=True) as session:
        with pytest.raises(ValueError, match="ID number"):
            queue_message(
                session,
                channel="sms",
                to="13800000005",
                body=f"身份证{make_id_number()}",
                purpose="t",
                now=NOW,
            )
        # A case number, a time and a phone number are not ID numbers.
        queue_message(
            session,
            channel="sms",
            to="13800000005",
            body="瑞调〔2026〕00017号 202612091430 13800000005",
            purpose="t",
            now=NOW,
        )
