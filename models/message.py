"""The outbox of messages to parties (SMS, e-mail): one row per message, sent after the commit that
queued it by the message sender (flows/messages.py, its thread runtime/sender.py), retried with backoff,
each with its status."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow

# Pauses before each new attempt after a transient failure (provider down, 5xx, connection refused):
# about 3 hours of trying in all, then the message is failed for a person to look at.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A message claimed by a sender that died mid-send is offered again after this (at least once, not
# exactly once: a provider cannot be asked whether it got it).
SENDING_LEASE = timedelta(minutes=2)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # Set by a flow that may run again (its outbox key + party + channel): a rerun queues nothing twice.
    key: str | None = Field(default=None, max_length=160, unique=True)
    channel: str = Field(max_length=8)  # MessageChannel
    # A phone number or an e-mail address: personal data, never audited, masked on pages.
    to: str = Field(max_length=200)
    subject: str | None = Field(default=None, max_length=200)
    body: str = Field(sa_type=Text)
    # Why it was sent (session_notice, signature_otp, application, …): shown to staff, never the body.
    purpose: str = Field(max_length=40)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    party_id: int | None = Field(default=None, foreign_key="parties.id", index=True)
    status: str = Field(default="queued", max_length=10)  # MessageStatus
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    provider_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed attempts, or None when the message has had them all."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + RETRY_DELAYS[attempts - 1]
