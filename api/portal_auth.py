"""The party's way in (一案一码): its code and the last 6 characters of its ID number (or credit code)
give a short-lived token naming that party only. Wrong secrets go through the login throttle
(api/security.LoginThrottle), counted per code and client address like a user name's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.security import ALGORITHM, LoginLocked, client_address, login_throttle
from models.db import utcnow
from models.party import Party
from models.party_access import party_for_code
from models.portal import secret_matches
from models.settings import get_settings

PORTAL_TTL = timedelta(minutes=30)
PURPOSE = "portal"
WRONG_SECRET = "服务码或验证信息不正确"
_bearer = HTTPBearer(auto_error=False)


class PortalLocked(HTTPException):
    def __init__(self, exc: LoginLocked) -> None:
        super().__init__(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=exc.message.replace("密码", "验证信息").replace("登录", "验证"),
            headers={"Retry-After": str(exc.retry_after)},
        )


def create_portal_token(party_id: int, *, now: datetime | None = None) -> str:
    issued = now or utcnow()
    payload = {
        "sub": str(party_id),
        "purpose": PURPOSE,
        "iat": int(issued.timestamp()),
        "exp": int((issued + PORTAL_TTL).timestamp()),
    }
    return jwt.encode(payload, get_settings().effective_secret_key, algorithm=ALGORITHM)


def read_portal_token(token: str) -> int | None:
    """The party id of a valid, unexpired portal token, else None (a staff token is not one)."""
    try:
        payload = jwt.decode(
            token,
            get_settings().effective_secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    if payload.get("purpose") != PURPOSE:
        return None
    try:
        party_id = int(payload["sub"])
    except (TypeError, ValueError):
        return None
    return party_id if 0 < party_id < 2**31 else None


def open_portal(session: Session, request: Request, code: str, secret: str) -> Party:
    """The party whose code and secret these are; 429 while this code must wait after wrong secrets
    from this address, 401 for a wrong code or secret (the same answer: no code is confirmed)."""
    throttle = login_throttle(request.app)
    now = throttle.clock()
    account = "portal:" + (code or "").strip().upper()[:24]
    address = client_address(request)
    try:
        had_failed = throttle.check(account, address, now)
    except LoginLocked as exc:
        raise PortalLocked(exc) from None
    party = party_for_code(session, code)
    if party is not None and secret_matches(party, secret):
        if had_failed:
            throttle.succeeded(account, address)
        return party
    throttle.failed(account, address, now)
    raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=WRONG_SECRET)


def _expired() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="验证已过期，请重新输入服务码和证件号码后六位",
        headers={"WWW-Authenticate": "Bearer"},
    )


def portal_party_id(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    if credentials is None:
        raise _expired()
    party_id = read_portal_token(credentials.credentials)
    if party_id is None:
        raise _expired()
    return party_id


PortalPartyId = Annotated[int, Depends(portal_party_id)]
