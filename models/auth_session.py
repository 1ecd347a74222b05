"""Server-side login sessions: every token and session cookie names one row (its `sid` claim).

A signed token alone proves nothing past its row: logout, a password change or reset, and disabling
the account revoke rows, and a token whose row is revoked, expired or missing opens nothing."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Field, Session, SQLModel, col, select

from models.db import UTCDateTime
from models.user import User


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_sessions"

    # Random and unguessable; carried only inside a signed token, so the row alone is no credential.
    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    purpose: str = Field(max_length=16)  # "api" (bearer token) or "session" (page cookie)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (a CursorResult's, which the generic Result type hides)."""
    return int(getattr(result, "rowcount", 0) or 0)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def open_session(
    session: Session, *, user_id: int, purpose: str, now: datetime, ttl: timedelta
) -> AuthSession:
    """A new session row for a successful login. The user's sessions that ended more than a day ago are
    dropped on the way (an indexed delete of this user's rows): the table does not grow with every login."""
    session.execute(
        delete(AuthSession).where(
            col(AuthSession.user_id) == user_id, col(AuthSession.expires_at) < now - timedelta(days=1)
        )
    )
    row = AuthSession(
        id=new_session_id(), user_id=user_id, purpose=purpose, created_at=now, expires_at=now + ttl
    )
    session.add(row)
    session.flush()
    return row


def session_user(session: Session, *, sid: str, user_id: int, purpose: str, now: datetime) -> User | None:
    """The user of a live session (not revoked, not expired, same user and purpose): one indexed lookup
    that also loads the user, so checking the session costs no extra round trip."""
    return session.exec(
        select(User)
        .join(AuthSession, col(AuthSession.user_id) == col(User.id))
        .where(
            col(AuthSession.id) == sid,
            col(AuthSession.user_id) == user_id,
            col(AuthSession.purpose) == purpose,
            col(AuthSession.revoked_at).is_(None),
            col(AuthSession.expires_at) > now,
        )
    ).first()


def revoke_session(session: Session, *, sid: str, now: datetime) -> bool:
    """Logout: the session stops working. False when it was already revoked or does not exist."""
    result = session.execute(
        update(AuthSession)
        .where(col(AuthSession.id) == sid, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return bool(rowcount(result))


def revoke_user_sessions(session: Session, *, user_id: int, now: datetime, keep: str | None = None) -> int:
    """Every live session of the user (but `keep`, the one making the change) stops working: after a
    password change or reset, and when the account is disabled."""
    conditions = [col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None)]
    if keep is not None:
        conditions.append(col(AuthSession.id) != keep)
    result = session.execute(update(AuthSession).where(*conditions).values(revoked_at=now))
    return rowcount(result)
