"""The admin's actions on existing accounts, and a user's own password change.

One function per human action, called by the JSON routes (api/routes/users.py, api/routes/auth.py) and
the pages (api/pages/admin.py, api/pages/auth.py) alike. Every change is audited; passwords never are
(the log says that a password was reset or changed, not what it is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.audit import record
from models.auth_session import revoke_user_sessions
from models.db import id_of
from models.enums import Role
from models.lifecycle import InvalidInput, NotFound, TransitionNotAllowed
from models.passwords import hash_password, verify_password
from models.user import User
from models.users import (
    UserUpdate,
    check_password,
    check_signer_name,
    check_user_expert,
    check_user_level,
    check_user_town,
    temporary_password,
)

# What the audit log keeps of an account (never the password hash).
AUDITED = ("display_name", "role", "level", "town", "active", "expert_id", "must_change_password")


def _snapshot(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in AUDITED}


def load_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在")
    return user


def _other_active_admins(session: Session, user: User) -> int:
    return session.exec(
        select(func.count())
        .select_from(User)
        .where(col(User.role) == Role.admin, col(User.active), col(User.id) != user.id)
    ).one()


def edit_user(*, session: Session, user_id: int, changes: UserUpdate, actor: User, now: datetime) -> User:
    """Change the fields sent (`changes.model_fields_set`): name, role, level, town, expert link, active."""
    user = load_user(session, user_id)
    sent = changes.model_fields_set
    before = _snapshot(user)

    display_name = user.display_name
    if "display_name" in sent:
        display_name = (changes.display_name or "").strip()
        if not display_name:
            raise InvalidInput("姓名不能为空", field="display_name")
    if "role" in sent and changes.role is None:
        raise InvalidInput("角色不能为空（可选：staff、lawyer、leader、admin）", field="role")
    if "active" in sent and changes.active is None:
        raise InvalidInput("启用状态应为是或否", field="active")
    role = changes.role.value if "role" in sent and changes.role is not None else user.role
    active = changes.active if "active" in sent and changes.active is not None else user.active
    level = changes.level if "level" in sent else user.level
    town = changes.town if "town" in sent else user.town
    expert_id = changes.expert_id if "expert_id" in sent else user.expert_id

    # An admin cannot lock themselves out, nor leave the center with no one to manage accounts.
    if user.id == actor.id and not active:
        raise TransitionNotAllowed("不能停用自己的账号")
    if user.id == actor.id and user.role == Role.admin and role != Role.admin:
        raise TransitionNotAllowed("不能取消自己的管理员角色，请由其他管理员操作")
    was_active_admin = user.role == Role.admin and user.active
    if was_active_admin and (role != Role.admin or not active) and _other_active_admins(session, user) == 0:
        raise TransitionNotAllowed("这是最后一个启用的管理员账号，不能停用或改为其他角色")

    check_user_level(role=role, level=level)
    level = level if role == Role.leader else None
    town = check_user_town(session, role=role, level=level, town=town)
    check_user_expert(session, role=role, expert_id=expert_id, user_id=user.id)
    if "display_name" in sent or "role" in sent:
        check_signer_name(role=role, display_name=display_name)

    user.display_name = display_name
    user.role = role
    user.level = level
    user.town = town
    user.expert_id = expert_id
    user.active = active
    session.add(user)
    session.flush()
    if not active:
        revoke_user_sessions(session, user_id=id_of(user), now=now)  # a disabled account's tokens end now
    after = _snapshot(user)
    changed = {k for k in AUDITED if before[k] != after[k]}
    if changed:
        action = "user.update"
        if changed == {"active"}:
            action = "user.enable" if active else "user.disable"
        record(
            session,
            actor_id=actor.id,
            actor_name=actor.username,
            action=action,
            entity="user",
            entity_id=user.id,
            before={k: before[k] for k in sorted(changed)},
            after={"username": user.username, **{k: after[k] for k in sorted(changed)}},
            at=now,
        )
    return user


def set_active(*, session: Session, user_id: int, active: bool, actor: User, now: datetime) -> User:
    """停用 / 启用: a disabled user cannot log in, and the tokens they hold stop working."""
    return edit_user(
        session=session, user_id=user_id, changes=UserUpdate(active=active), actor=actor, now=now
    )


def reset_password(*, session: Session, user_id: int, actor: User, now: datetime) -> tuple[User, str]:
    """A new temporary password, shown once to the admin; the user must change it at the next login."""
    user = load_user(session, user_id)
    password = temporary_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    session.add(user)
    session.flush()
    # Whoever held the old password (or a token got with it) is out from now on.
    revoke_user_sessions(session, user_id=id_of(user), now=now)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="user.password_reset",
        entity="user",
        entity_id=user.id,
        after={"username": user.username, "must_change_password": True},
        at=now,
    )
    return user, password


def change_password(
    *,
    session: Session,
    user_id: int,
    current: str,
    new: str,
    now: datetime,
    field: str = "new_password",
    keep_session: str | None = None,
) -> User:
    """The user's own change, proven by the current password (after a reset: the temporary one), so a
    session left open from before the reset cannot choose the new password. Every other session of the
    user ends (`keep_session`: the one making the change, if any)."""
    user = load_user(session, user_id)
    if not user.active:
        raise NotFound("用户不存在")
    if not verify_password(current, user.password_hash):
        raise InvalidInput("当前密码不正确", field="password")
    check_password(new, field=field)
    if new == current:
        raise InvalidInput("新密码不能与当前密码相同", field=field)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.add(user)
    session.flush()
    revoke_user_sessions(session, user_id=user_id, now=now, keep=keep_session)
    record(
        session,
        actor_id=user.id,
        actor_name=user.username,
        action="user.password_change",
        entity="user",
        entity_id=user.id,
        after={"username": user.username, "must_change_password": False},
        at=now,
    )
    return user
