"""Passwords (argon2), bearer tokens (JWT) naming a server-side session, the CSRF token of the HTML
forms, and the login throttle."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.auth_session import open_session, revoke_session
from models.auth_session import session_user as live_session_user
from models.db import session_scope, utcnow
from models.passwords import hash_password, verify_password  # noqa: F401  (re-exported)
from models.settings import get_settings
from models.user import User

ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    sid: str  # the server-side session (models/auth_session.py) the token belongs to


def create_token(
    user_id: int,
    *,
    sid: str,
    purpose: str = "api",
    now: datetime | None = None,
    expires: datetime | None = None,
) -> str:
    settings = get_settings()
    issued = now or utcnow()
    expires = expires or issued + timedelta(minutes=settings.token_ttl_minutes)
    payload = {
        "sub": str(user_id),
        "sid": sid,
        "purpose": purpose,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(payload, settings.effective_secret_key, algorithm=ALGORITHM)


def read_claims(token: str, *, purpose: str = "api") -> TokenClaims | None:
    """The user and session named by a valid, unexpired token of that purpose, else None. Whether the
    session is still live is the database's to say (`token_user`, api/deps.get_current_user)."""
    try:
        # A token must expire and name its session: one without `exp` or `sid` is refused.
        payload = jwt.decode(
            token,
            get_settings().effective_secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "sid"]},
        )
    except jwt.PyJWTError:
        return None
    if payload.get("purpose") != purpose:
        return None
    sid = payload.get("sid")
    if not isinstance(sid, str) or not 0 < len(sid) <= 64:
        return None
    try:
        user_id = int(payload["sub"])
    except (KeyError, TypeError, ValueError):
        return None
    # An id the database's BIGINT cannot hold names no user (and must not reach the query).
    return TokenClaims(user_id, sid) if 0 < user_id < 2**63 else None


def read_token(token: str, *, purpose: str = "api") -> int | None:
    """The user id in a valid, unexpired token of that purpose (signature and claims only)."""
    claims = read_claims(token, purpose=purpose)
    return claims.user_id if claims else None


def issue_token(session: Session, user_id: int, *, purpose: str = "api", now: datetime | None = None) -> str:
    """Log in: a new server-side session and a token naming it (expiring together)."""
    issued = now or utcnow()
    row = open_session(
        session,
        user_id=user_id,
        purpose=purpose,
        now=issued,
        ttl=timedelta(minutes=get_settings().token_ttl_minutes),
    )
    return create_token(user_id, sid=row.id, purpose=purpose, now=issued, expires=row.expires_at)


def token_user(
    engine: Engine, token: str, *, purpose: str, now: datetime | None = None
) -> tuple[User, str] | None:
    """The user and session id of a token whose session is live (one query), else None."""
    claims = read_claims(token, purpose=purpose)
    if claims is None:
        return None
    with Session(engine, expire_on_commit=False) as session:
        user = live_session_user(
            session, sid=claims.sid, user_id=claims.user_id, purpose=purpose, now=now or utcnow()
        )
    return (user, claims.sid) if user is not None else None


def logout(engine: Engine, token: str, *, purpose: str, now: datetime | None = None) -> bool:
    """Revoke the token's session (logout). False when the token names no live session."""
    claims = read_claims(token, purpose=purpose)
    if claims is None:
        return False
    with session_scope(engine, write=True) as session:
        return revoke_session(session, sid=claims.sid, now=now or utcnow())


def cookie_secure(request: Request) -> bool:
    """Cookies only over HTTPS when the request came over HTTPS (behind a trusted proxy, uvicorn takes the
    scheme from X-Forwarded-Proto: `tiaojie serve` trusts TIAOJIE_TRUSTED_PROXIES)."""
    return request.url.scheme == "https"


def csrf_token_for(session_token: str) -> str:
    """CSRF token bound to the session cookie: a form posted from another site can't know it."""
    key = get_settings().effective_secret_key.encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token_for(session_token), submitted or "")


# --- Login: one place for API tokens and the page form, with a brake on password guessing ---------

WINDOW_MINUTES = 15
# Wrong passwords for one account from one client address: the guesser is stopped, while the account's
# owner (elsewhere) still logs in; an attacker cannot lock the admin out from their own address.
PER_ACCOUNT_ADDRESS = parse(f"5 per {WINDOW_MINUTES} minutes")
# Wrong passwords from one address over all accounts: spraying many names is stopped too.
PER_ADDRESS = parse(f"30 per {WINDOW_MINUTES} minutes")
MAX_FAILURES = PER_ACCOUNT_ADDRESS.amount
_NAMESPACE = "tiaojie-login"

log = logging.getLogger(__name__)


class LoginLocked(Exception):
    """Too many wrong passwords for this account from this address (or from this address at all)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        minutes = max(1, math.ceil(self.retry_after / 60))
        self.message = f"密码错误次数过多，请{minutes}分钟后再试"
        super().__init__(self.message)


class LoginThrottle:
    """Moving-window counts of wrong passwords, in `limits` storage: in memory for one process, in Redis
    (TIAOJIE_RATE_LIMIT_STORAGE=redis://…) when several web processes must share them."""

    def __init__(self, storage_uri: str) -> None:
        self.storage_uri = storage_uri
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def _keys(self, account: str, address: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        return [
            (PER_ACCOUNT_ADDRESS, (_NAMESPACE, "account", account, address)),
            (PER_ADDRESS, (_NAMESPACE, "address", address)),
        ]

    def check(self, account: str, address: str) -> None:
        """Raise LoginLocked when either window is full."""
        try:
            for limit, keys in self._keys(account, address):
                if not self.limiter.test(limit, *keys):
                    reset = self.limiter.get_window_stats(limit, *keys).reset_time
                    raise LoginLocked(math.ceil(reset - time.time()))
        except LoginLocked:
            raise
        except Exception:  # the shared store is down: logins go on rather than the whole center stopping
            log.warning("login throttle storage %s unavailable", self.storage_uri, exc_info=True)

    def failed(self, account: str, address: str) -> None:
        try:
            for limit, keys in self._keys(account, address):
                self.limiter.hit(limit, *keys)
        except Exception:
            log.warning("login throttle storage %s unavailable", self.storage_uri, exc_info=True)

    def succeeded(self, account: str, address: str) -> None:
        # The owner got in from this address: their own typos there are forgiven.
        limit, keys = self._keys(account, address)[0]
        try:
            self.limiter.clear(limit, *keys)
        except Exception:
            log.warning("login throttle storage %s unavailable", self.storage_uri, exc_info=True)


_throttle_lock = threading.Lock()


def login_throttle(app: Any) -> LoginThrottle:
    """The app's throttle, made on first use from the settings (one per app: tests get a fresh one)."""
    with _throttle_lock:
        throttle = getattr(app.state, "login_throttle", None)
        if throttle is None:
            throttle = app.state.login_throttle = LoginThrottle(get_settings().rate_limit_storage)
        return throttle


def client_address(request: Request) -> str:
    # Behind a trusted proxy uvicorn has already put the X-Forwarded-For address here.
    return request.client.host if request.client else "unknown"


def authenticate(session: Session, username: str, password: str, *, request: Request) -> User | None:
    """The active user with this name and password, else None; raises LoginLocked after repeated
    failures for this account from this client address (or from this address overall)."""
    throttle = login_throttle(request.app)
    account = username.strip().lower()
    address = client_address(request)
    throttle.check(account, address)
    user = session.exec(select(User).where(User.username == username.strip())).first()
    ok = verify_password(password, user.password_hash if user else None)
    if ok and user is not None and user.active:
        throttle.succeeded(account, address)
        return user
    throttle.failed(account, address)
    return None


def content_security_policy(*script_sources: str) -> str:
    """The CSP every answer carries: scripts only from our own /static (no inline script, no on*=
    handler), no <base> pointing elsewhere, no framing. No object-src: Chrome shows an opened PDF (our
    documents) through its PDF plugin, which that would block. The API viewers (/docs, /redoc) add
    their CDN and the nonce of their one inline script."""
    scripts = " ".join(("'self'", *script_sources))
    return f"script-src {scripts}; base-uri 'self'; frame-ancestors 'none'"
