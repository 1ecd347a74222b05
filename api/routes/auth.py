"""OAuth2 password tokens for /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentUser, SessionDep
from api.errors import ERROR_RESPONSES
from api.security import LoginLocked, authenticate, create_token
from models.public import ErrorPublic, MePublic, TokenPublic

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post(
    "/token",
    response_model=TokenPublic,
    summary="以用户名和密码换取访问令牌",
    responses={429: {"model": ErrorPublic, "description": "连续输错密码，暂时锁定"}},
)
def login_for_token(
    session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenPublic:
    try:
        user = authenticate(session, form.username, form.password)
    except LoginLocked as exc:
        raise HTTPException(status_code=429, detail=exc.message) from exc
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="用户名或密码不正确",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenPublic(access_token=create_token(user.id))


@router.get("/me", response_model=MePublic, summary="当前登录用户")
def me(user: CurrentUser) -> MePublic:
    return MePublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        level=user.level,
        town=user.town,
        expert_id=user.expert_id,
    )
