"""User accounts (admin): list, edit (name, role, level, town, active), reset a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from sqlalchemy import func
from sqlmodel import col, select

from api.deps import AdminUser, SessionDep, forget_user
from api.errors import ERROR_RESPONSES
from flows import users
from models.db import session_scope, utcnow
from models.public import TemporaryPasswordPublic, UserPublic, UsersPublic
from models.user import User
from models.users import UserUpdate

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)

UserId = Annotated[int, Path(ge=1, le=2_147_483_647, description="用户 id")]


def user_public(user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "level": user.level,
        "town": user.town,
        "active": user.active,
        "expert_id": user.expert_id,
        "must_change_password": user.must_change_password,
    }


@router.get("", response_model=UsersPublic, summary="用户列表（管理员）")
def list_users(
    session: SessionDep,
    admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,
) -> dict:
    total = session.exec(select(func.count()).select_from(User)).one()
    rows = session.exec(select(User).order_by(col(User.id)).offset(offset).limit(limit)).all()
    return {"items": [user_public(u) for u in rows], "total": total, "limit": limit, "offset": offset}


@router.patch(
    "/{user_id}",
    response_model=UserPublic,
    summary="修改用户（管理员）：姓名、角色、督办层级、所属镇街、启用或停用",
)
def edit_user(user_id: UserId, body: UserUpdate, request: Request, admin: AdminUser) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        user = users.edit_user(session=session, user_id=user_id, changes=body, actor=admin, now=utcnow())
        out = user_public(user)
    forget_user(user_id)  # a disabled account's tokens stop at once, not after the cache's TTL
    return out


@router.post(
    "/{user_id}/password-reset",
    response_model=TemporaryPasswordPublic,
    summary="重置密码（管理员）：返回临时密码（仅此一次），用户下次登录须先修改",
)
def reset_password(
    user_id: UserId,
    request: Request,
    admin: AdminUser,
    body: Annotated[dict[str, None] | None, Body(description="空对象 {}")] = None,
) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        _, password = users.reset_password(session=session, user_id=user_id, actor=admin, now=utcnow())
    forget_user(user_id)
    return {"temporary_password": password}
