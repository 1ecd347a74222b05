"""Passwords (argon2), bearer tokens (JWT) naming a server-side session, the CSRF token of the HTML
forms, and the login throttle."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from fastapi import Request
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
    """Cookies only over HTTPS when the request came over HTTPS (behind a trusted proxy the scheme comes
    from X-Forwarded-Proto: api/main.behind_proxies, TIAOJIE_TRUSTED_PROXIES)."""
    return request.url.scheme == "https"


def csrf_token_for(session_token: str) -> str:
    """CSRF token bound to the session cookie: a form posted from another site can't know it."""
    key = get_settings().effective_secret_key.encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(session_token: str, submitted: object) -> bool:
    """`submitted` is the form's value as posted: a file or nothing is no token."""
    return (
        isinstance(submitted, str)
        and bool(submitted)
        and hmac.compare_digest(csrf_token_for(session_token), submitted)
    )


# --- Login: one place for API tokens and the page form, with a brake on password guessing ---------

WINDOW_MINUTES = 15
WINDOW_SECONDS = WINDOW_MINUTES * 60
# Wrong passwords for one account from one client address: the guesser is stopped for the rest of the
# window, while the account's owner (elsewhere) still logs in; an attacker cannot lock the admin out
# from their own address.
MAX_FAILURES = 5
# Wrong passwords from one address over all accounts: a whole center may sit behind one NAT address, so
# past these few the address is slowed, never locked: each further one adds ADDRESS_STEP_SECONDS to the
# wait of the accounts that failed there (up to the window). An account that has not failed there is not
# held back: its right password always gets in.
ADDRESS_FREE_FAILURES = 5
ADDRESS_STEP_SECONDS = 10
# Newest entries kept per key: enough to reach the longest wait above, bounded under a flood.
_KEEP = 256
_NAMESPACE = "tiaojie-login"

log = logging.getLogger(__name__)


class LoginLocked(Exception):
    """A login refused before the password is looked at: too many wrong passwords for this account from
    this address (locked for the window), or from this address overall (slowed)."""

    def __init__(self, retry_after: int, *, slowed: bool = False) -> None:
        self.retry_after = max(1, retry_after)
        if slowed:
            wait = (
                f"{self.retry_after}秒"
                if self.retry_after < 60
                else f"{math.ceil(self.retry_after / 60)}分钟"
            )
            self.message = f"本地址登录失败次数过多，请{wait}后再试"
        else:
            self.message = f"密码错误次数过多，请{max(1, math.ceil(self.retry_after / 60))}分钟后再试"
        super().__init__(self.message)


def address_delay(failures: int) -> int:
    """Seconds an account that failed at an address waits after its own newest failure there, given the
    address's failures in the window: none up to ADDRESS_FREE_FAILURES, then growing with each one."""
    excess = failures - ADDRESS_FREE_FAILURES
    return 0 if excess <= 0 else min(WINDOW_SECONDS, excess * ADDRESS_STEP_SECONDS)


class _MemoryLog:
    """Failure times per key in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = {}
        self._sweep_at = 10_000

    def add(self, key: str, now: float) -> None:
        with self._lock:
            if len(self._times) > self._sweep_at:  # forget keys whose failures have all aged out
                self._times = {k: v for k, v in self._times.items() if v and v[-1] > now - WINDOW_SECONDS}
                self._sweep_at = max(10_000, 2 * len(self._times))
            times = [t for t in self._times.get(key, ()) if t > now - WINDOW_SECONDS]
            times.append(now)
            self._times[key] = times[-_KEEP:]

    def times(self, key: str, now: float) -> list[float]:
        with self._lock:
            return [t for t in self._times.get(key, ()) if t > now - WINDOW_SECONDS]

    def clear(self, key: str) -> None:
        with self._lock:
            self._times.pop(key, None)


class _RedisLog:
    """Failure times per key in Redis (a sorted set scored by time), shared by web processes."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def add(self, key: str, now: float) -> None:
        pipe = self._redis.pipeline()
        pipe.zadd(key, {f"{now!r}:{secrets.token_hex(4)}": now})
        pipe.zremrangebyscore(key, "-inf", now - WINDOW_SECONDS)
        pipe.zremrangebyrank(key, 0, -_KEEP - 1)
        pipe.expire(key, WINDOW_SECONDS + 60)
        pipe.execute()

    def times(self, key: str, now: float) -> list[float]:
        rows = self._redis.zrangebyscore(key, f"({now - WINDOW_SECONDS}", "+inf", withscores=True)
        # withscores=True answers (member, score) pairs; the client's return type also names bare members.
        return [float(row[1]) for row in rows if not isinstance(row, bytes | str)]

    def clear(self, key: str) -> None:
        self._redis.delete(key)


def _failure_log(storage_uri: str) -> _MemoryLog | _RedisLog:
    scheme = storage_uri.split("://", 1)[0].lower()
    if scheme == "memory":
        return _MemoryLog()
    if scheme in {"redis", "rediss", "unix"}:
        return _RedisLog(storage_uri)
    raise ValueError(
        f"TIAOJIE_RATE_LIMIT_STORAGE: unsupported storage {storage_uri!r} (memory:// or redis://)"
    )


class LoginThrottle:
    """Times of wrong passwords over a moving window, kept in memory for one process or in Redis
    (TIAOJIE_RATE_LIMIT_STORAGE=redis://…) when several web processes must share them. Every decision
    takes the time from `clock` (seconds since the epoch). Not the `limits` library: its windows read the
    wall clock and tell only the oldest time in a window, while a wait here runs from the newest failure."""

    def __init__(self, storage_uri: str, *, clock: Callable[[], float] = time.time) -> None:
        self.storage_uri = storage_uri
        self.clock = clock
        self._log = _failure_log(storage_uri)

    @staticmethod
    def _account_key(account: str, address: str) -> str:
        # "|" is in no address: a user name cannot make its key another address's.
        return f"{_NAMESPACE}:account:{address}|{account}"

    @staticmethod
    def _address_key(address: str) -> str:
        return f"{_NAMESPACE}:address:{address}"

    def _times(self, key: str, now: float) -> list[float]:
        try:
            return sorted(self._log.times(key, now))
        except Exception:  # the shared store is down: logins go on rather than the whole center stopping
            log.warning("login throttle storage %s unavailable", self.storage_uri, exc_info=True)
            return []

    def check(self, account: str, address: str, now: float) -> bool:
        """Whether this account has failed at this address in the window (then a wrong or right password
        alike is refused while it must wait: LoginLocked). One that has not failed is never held back."""
        own = self._times(self._account_key(account, address), now)
        if not own:
            return False
        if len(own) >= MAX_FAILURES:
            # Locked until the oldest of its last MAX_FAILURES failures leaves the window.
            raise LoginLocked(math.ceil(own[-MAX_FAILURES] + WINDOW_SECONDS - now))
        delay = address_delay(len(self._times(self._address_key(address), now)))
        wait = own[-1] + delay - now
        if wait > 0:
            raise LoginLocked(math.ceil(wait), slowed=True)
        return True

    def failed(self, account: str, address: str, now: float) -> None:
        try:
            self._log.add(self._account_key(account, address), now)
            self._log.add(self._address_key(address), now)
        except Exception:
            log.warning("login throttle storage %s unavailable", self.storage_uri, exc_info=True)

    def succeeded(self, account: str, address: str) -> None:
        # The owner got in from this address: their own typos there are forgiven (the address's stay).
        try:
            self._log.clear(self._account_key(account, address))
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


class TooManyRequests(Exception):
    """Over a public form's allowance from one address (HTTP 429, in Chinese, with Retry-After)."""

    def __init__(self, retry_after: int, message: str) -> None:
        self.retry_after = max(1, retry_after)
        self.message = message
        super().__init__(message)


class AddressAllowance:
    """At most `limit` submissions from one client address per WINDOW_SECONDS, counted in the login
    throttle's store (memory, or the Redis several web processes share): the public online application."""

    def __init__(self, storage_uri: str, *, name: str, limit: int, clock: Callable[[], float] = time.time):
        self.storage_uri, self.name, self.limit, self.clock = storage_uri, name, limit, clock
        self._log = _failure_log(storage_uri)

    def take(self, address: str) -> None:
        """Count one submission from `address`, or raise TooManyRequests (counting nothing)."""
        now = self.clock()
        key = f"{_NAMESPACE}:{self.name}:{address}"
        try:
            times = sorted(self._log.times(key, now))
            if len(times) >= self.limit:
                wait = math.ceil(times[-self.limit] + WINDOW_SECONDS - now)
                raise TooManyRequests(wait, f"本地址提交过于频繁，请{max(1, math.ceil(wait / 60))}分钟后再试")
            self._log.add(key, now)
        except TooManyRequests:
            raise
        except Exception:  # the shared store is down: applications go on rather than stopping
            log.warning("rate limit storage %s unavailable", self.storage_uri, exc_info=True)


def application_allowance(app: Any) -> AddressAllowance:
    """The app's allowance for online applications (one per app: tests get a fresh one)."""
    with _throttle_lock:
        allowance = getattr(app.state, "application_allowance", None)
        if allowance is None:
            settings = get_settings()
            allowance = app.state.application_allowance = AddressAllowance(
                settings.rate_limit_storage, name="apply", limit=settings.online_applications_per_window
            )
        return allowance


def client_address(request: Request) -> str:
    # The peer's address; behind a trusted proxy (TIAOJIE_TRUSTED_PROXIES, api/main.behind_proxies) the
    # X-Forwarded-For address has already been put here, and from anyone else that header is ignored.
    return request.client.host if request.client else "unknown"


def authenticate(session: Session, username: str, password: str, *, request: Request) -> User | None:
    """The active user with this name and password, else None; raises LoginLocked while this account
    must wait after wrong passwords from this client address (locked after MAX_FAILURES, slowed when the
    address as a whole has many). An account without failures there is always checked."""
    throttle = login_throttle(request.app)
    now = throttle.clock()
    account = username.strip().lower()
    address = client_address(request)
    had_failed = throttle.check(account, address, now)
    user = session.exec(select(User).where(User.username == username.strip())).first()
    ok = verify_password(password, user.password_hash if user else None)
    if ok and user is not None and user.active:
        if had_failed:
            throttle.succeeded(account, address)
        return user
    throttle.failed(account, address, now)
    return None


def content_security_policy(*script_sources: str) -> str:
    """The CSP every answer carries: scripts only from our own /static (no inline script, no on*=
    handler), no <base> pointing elsewhere, no framing. No object-src: Chrome shows an opened PDF (our
    documents) through its PDF plugin, which that would block. The API viewers (/docs, /redoc) add
    their CDN and the nonce of their one inline script."""
    scripts = " ".join(("'self'", *script_sources))
    return f"script-src {scripts}; base-uri 'self'; frame-ancestors 'none'"
