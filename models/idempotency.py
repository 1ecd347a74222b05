"""Idempotency keys: a client that retries a creating request after a lost answer gets the first answer
again instead of a second case (the `Idempotency-Key` header; api/idempotency.py applies it).

A key belongs to one user and one request (method, path and body, as a fingerprint). The first request
claims the key (a committed row with no answer yet: "in flight"), and its successful answer is stored
on the row; a repeat replays it, a repeat with another body is refused (422), a repeat while the first
is still running is refused (409). Keys are kept KEEP_FOR, then purged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint, delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, col, select

from models.db import UTCDateTime, session_scope
from models.lifecycle import InvalidInput, TransitionNotAllowed

KEEP_FOR = timedelta(hours=24)
# A claim with no answer after this long belongs to a request that died with its process (kill -9):
# a retry may take it over rather than be refused until the key expires.
IN_FLIGHT_LEASE = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    key: str = Field(max_length=MAX_KEY_LENGTH)
    # sha256 of method, path and the canonical body: the same key must come with the same request.
    fingerprint: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # The stored answer; NULL while the first request is in flight.
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=100)
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class KeyInFlight(TransitionNotAllowed):
    """409: the first request with this key has not answered yet."""


class KeyReused(InvalidInput):
    """422: the key was used before for another request."""


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    content_type: str | None
    body: bytes


def _find(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.exec(
        select(IdempotencyKey).where(col(IdempotencyKey.user_id) == user_id, col(IdempotencyKey.key) == key)
    ).first()


def claim(engine: Engine, *, user_id: int, key: str, fingerprint: str, now: datetime) -> StoredAnswer | None:
    """Claim the key for this request (None: go ahead, then `complete` or `release`), or the stored
    answer to replay. Raises KeyReused (another request) or KeyInFlight (the first still running).

    The claim commits on its own, before the request's work, so a concurrent duplicate sees it."""
    for _ in range(3):
        with session_scope(engine, write=True) as session:
            row = _find(session, user_id, key)
            if row is not None:
                stale = row.created_at <= now - KEEP_FOR or (
                    row.status_code is None and row.created_at <= now - IN_FLIGHT_LEASE
                )
                if stale:
                    session.delete(row)
                    session.flush()
                    row = None
            if row is not None:
                if row.fingerprint != fingerprint:
                    raise KeyReused(
                        "该幂等键（Idempotency-Key）已用于另一个请求（内容不同），请为新的请求使用新的键",
                        field="Idempotency-Key",
                    )
                if row.status_code is None:
                    raise KeyInFlight("使用同一幂等键（Idempotency-Key）的请求正在处理中，请稍后重试")
                return StoredAnswer(row.status_code, row.content_type, row.body or b"")
            try:
                with session.begin_nested():
                    session.add(
                        IdempotencyKey(user_id=user_id, key=key, fingerprint=fingerprint, created_at=now)
                    )
            except IntegrityError:
                # A concurrent request claimed it between our look and our insert: look again.
                continue
            return None
    raise KeyInFlight("使用同一幂等键（Idempotency-Key）的请求正在处理中，请稍后重试")


def complete(session: OrmSession, *, user_id: int, key: str, answer: StoredAnswer, now: datetime) -> None:
    """Keep the first successful answer for replay."""
    session.execute(
        update(IdempotencyKey)
        .where(col(IdempotencyKey.user_id) == user_id, col(IdempotencyKey.key) == key)
        .values(
            status_code=answer.status_code,
            content_type=answer.content_type,
            body=answer.body,
            completed_at=now,
        )
    )


def release(session: OrmSession, *, user_id: int, key: str) -> None:
    """The request failed (refused, invalid, or an error): nothing was created, the key is free again."""
    session.execute(
        delete(IdempotencyKey).where(
            col(IdempotencyKey.user_id) == user_id,
            col(IdempotencyKey.key) == key,
            col(IdempotencyKey.status_code).is_(None),
        )
    )


def purge(session: OrmSession, *, now: datetime) -> int:
    """Drop keys older than KEEP_FOR (an indexed range delete on created_at)."""
    result = session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < now - KEEP_FOR))
    return int(getattr(result, "rowcount", 0) or 0)
