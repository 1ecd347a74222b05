"""OAuth2 password tokens for /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep
from api.security import LoginLocked, authenticate, create_token

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Me(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    level: int | None
    town: str | None
    expert_id: int | None


@router.post("/token", response_model=Token, summary="以用户名和密码换取访问令牌")
def login_for_token(session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
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
    return Token(access_token=create_token(user.id))


@router.get("/me", response_model=Me, summary="当前登录用户")
def me(user: CurrentUser) -> Me:
    return Me.model_validate(user, from_attributes=True)
