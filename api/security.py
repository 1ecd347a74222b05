"""Passwords (argon2), bearer tokens (JWT) and the CSRF token of the HTML forms."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import datetime, timedelta
from time import monotonic

import jwt
from cachetools import TTLCache

from models.db import utcnow
from models.passwords import hash_password, verify_password  # noqa: F401  (re-exported)
from models.settings import get_settings

ALGORITHM = "HS256"


def create_token(user_id: int, *, purpose: str = "api", now: datetime | None = None) -> str:
    settings = get_settings()
    issued = now or utcnow()
    payload = {
        "sub": str(user_id),
        "purpose": purpose,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=settings.token_ttl_minutes)).timestamp()),
    }
    return jwt.encode(payload, settings.effective_secret_key, algorithm=ALGORITHM)


def read_token(token: str, *, purpose: str = "api") -> int | None:
    """The user id in a valid, unexpired token of that purpose, else None."""
    try:
        # A token must expire: one signed without `exp` is refused, not trusted forever.
        payload = jwt.decode(
            token,
            get_settings().effective_secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    if payload.get("purpose") != purpose:
        return None
    try:
        user_id = int(payload["sub"])
    except (KeyError, TypeError, ValueError):
        return None
    # An id the database's BIGINT cannot hold names no user (and must not reach the query).
    return user_id if 0 < user_id < 2**63 else None


def csrf_token_for(session_token: str) -> str:
    """CSRF token bound to the session cookie: a form posted from another site can't know it."""
    key = get_settings().effective_secret_key.encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token_for(session_token), submitted or "")


# --- Login: one place for API tokens and the page form, with a brake on password guessing ---------

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60


class LoginLocked(Exception):
    """Too many wrong passwords for this user name: wait before trying again."""

    message = f"密码错误次数过多，请{LOCK_SECONDS // 60}分钟后再试"


# Failure times per user name. Bounded (a guesser trying many names cannot grow it without limit); an
# entry expires LOCK_SECONDS after its latest failure, when the window below would be empty anyway.
_failures: TTLCache[str, list[float]] = TTLCache(maxsize=100_000, ttl=LOCK_SECONDS)
_failures_lock = threading.Lock()


def authenticate(session, username: str, password: str):  # noqa: ANN001, ANN201
    """The active user with this name and password, else None; raises LoginLocked after repeated
    failures (per process: behind several web processes the brake is per process)."""
    from sqlmodel import select

    from models.user import User

    key = username.strip().lower()
    now = monotonic()
    with _failures_lock:
        recent = [t for t in _failures.get(key, []) if now - t < LOCK_SECONDS]
        if len(recent) >= MAX_FAILURES:
            raise LoginLocked()
    user = session.exec(select(User).where(User.username == username.strip())).first()
    ok = verify_password(password, user.password_hash if user else None)
    if ok and user is not None and user.active:
        with _failures_lock:
            _failures.pop(key, None)
        return user
    with _failures_lock:
        _failures[key] = [*(t for t in _failures.get(key, []) if now - t < LOCK_SECONDS), now]
    return None
