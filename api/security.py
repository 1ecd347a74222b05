"""Passwords (argon2), bearer tokens (JWT) and the CSRF token of the HTML forms."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

import jwt
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
        payload = jwt.decode(token, get_settings().effective_secret_key, algorithms=[ALGORITHM])
    except jwt.PyJWTError:
        return None
    if payload.get("purpose") != purpose:
        return None
    try:
        return int(payload["sub"])
    except (KeyError, ValueError):
        return None


def csrf_token_for(session_token: str) -> str:
    """CSRF token bound to the session cookie: a form posted from another site can't know it."""
    key = get_settings().effective_secret_key.encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token_for(session_token), submitted or "")
