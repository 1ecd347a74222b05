"""Dependencies as Annotated aliases, declared once: route signatures read like sentences."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.security import read_token
from models.enums import Role
from models.user import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_engine_dep(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="未登录或登录已过期",
        headers={"WWW-Authenticate": "Bearer"},
    )


def get_current_user(session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
    if not token:
        raise _unauthorized()
    user_id = read_token(token)
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.active:
        raise _unauthorized()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role):  # noqa: ANN201
    allowed = {r.value for r in roles}

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="当前角色无权执行此操作")
        return user

    return check


StaffUser = Annotated[User, Depends(require_roles(Role.staff, Role.admin))]
LeaderUser = Annotated[User, Depends(require_roles(Role.leader, Role.admin))]
AdminUser = Annotated[User, Depends(require_roles(Role.admin))]
# Anyone who may read the backlog (staff too: the work queue is built from it).
BacklogReader = Annotated[User, Depends(require_roles(Role.staff, Role.leader, Role.admin))]
