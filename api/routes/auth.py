"""OAuth2 password tokens for /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import Session

from api.deps import (
    MUST_CHANGE_PASSWORD,
    CurrentUser,
    forget_session,
    forget_user,
    oauth2_scheme,
)
from api.errors import ERROR_RESPONSES
from api.security import LoginLocked, authenticate, issue_token, logout, read_claims
from flows.users import change_password
from models.db import id_of, session_scope, utcnow
from models.public import ErrorPublic, LogoutPublic, MePublic, TokenPublic
from models.users import PasswordChange

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post(
    "/token",
    response_model=TokenPublic,
    summary="以用户名和密码换取访问令牌",
    responses={429: {"model": ErrorPublic, "description": "登录失败过多：稍后再试（见 Retry-After）"}},
)
def login_for_token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenPublic:
    engine = request.app.state.engine
    try:
        # Read-only while the password is checked (argon2 is slow): no write lock held meanwhile.
        with Session(engine, expire_on_commit=False) as session:
            user = authenticate(session, form.username, form.password, request=request)
    except LoginLocked as exc:
        raise _locked(exc) from exc
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="用户名或密码不正确",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if user.must_change_password:
        # The password was right, but it is an admin's temporary one: no token until it is changed.
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=MUST_CHANGE_PASSWORD)
    with session_scope(engine, write=True) as session:
        token = issue_token(session, id_of(user), now=utcnow())
    return TokenPublic(access_token=token)


def _locked(exc: LoginLocked) -> HTTPException:
    return HTTPException(status_code=429, detail=exc.message, headers={"Retry-After": str(exc.retry_after)})


@router.post(
    "/password",
    response_model=TokenPublic,
    summary="修改自己的密码（管理员重置后须先修改），成功后返回新的访问令牌",
    responses={429: {"model": ErrorPublic, "description": "登录失败过多：稍后再试（见 Retry-After）"}},
)
def password(request: Request, body: PasswordChange) -> TokenPublic:
    # No bearer token needed: a user whose password was reset gets none until they change it. The
    # current password is the proof, checked with the same brake on guessing as the login.
    try:
        with session_scope(request.app.state.engine, write=True) as session:
            user = authenticate(session, body.username, body.password, request=request)
            if user is None:
                raise HTTPException(
                    status_code=status.HTTP_401_UNAUTHORIZED,
                    detail="用户名或当前密码不正确",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            now = utcnow()
            # Every session of the account ends (change_password revokes them), this new one begins.
            user = change_password(
                session=session, user_id=id_of(user), current=body.password, new=body.new_password, now=now
            )
            user_id = id_of(user)
            token = issue_token(session, user_id, now=now)
    except LoginLocked as exc:
        raise _locked(exc) from exc
    forget_user(user_id)
    return TokenPublic(access_token=token)


@router.post("/logout", response_model=LogoutPublic, summary="退出登录：本令牌立即失效（服务器端会话撤销）")
def logout_token(
    request: Request, user: CurrentUser, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> LogoutPublic:
    claims = read_claims(token or "")
    if claims is not None:
        logout(request.app.state.engine, token or "", purpose="api")
        forget_session(claims.sid)
    return LogoutPublic(logged_out=True)


@router.get("/me", response_model=MePublic, summary="当前登录用户")
def me(user: CurrentUser) -> MePublic:
    return MePublic(
        id=id_of(user),
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        level=user.level,
        town=user.town,
        expert_id=user.expert_id,
    )
