"""Creating and changing users (CLI, admin pages and demo share this)."""

from __future__ import annotations

from sqlmodel import Session, select

from models.audit import record
from models.enums import Role
from models.expert import Expert
from models.lifecycle import InvalidInput
from models.passwords import hash_password
from models.town import check_town
from models.user import User

MIN_PASSWORD_LENGTH = 8


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    expert_id: int | None = None,
    level: int | None = None,
    town: str | None = None,
    display_name: str | None = None,
    actor: User | None = None,
) -> User:
    username = username.strip()
    if not username or len(username) > 60:
        raise InvalidInput("用户名不能为空且不超过60个字符", field="username")
    if role not in {r.value for r in Role}:
        raise InvalidInput("角色应为 staff、lawyer、leader 或 admin", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD_LENGTH} 位", field="password")
    if session.exec(select(User).where(User.username == username)).first():
        raise InvalidInput(f"用户名“{username}”已存在", field="username")
    if role == Role.lawyer:
        if expert_id is None:
            raise InvalidInput("律师账号须用 --expert-id 关联专家库中的律师", field="expert_id")
        expert = session.get(Expert, expert_id)
        if expert is None:
            raise InvalidInput(f"专家库中没有 id={expert_id} 的专家", field="expert_id")
    if role == Role.leader and level not in (1, 2, 3):
        raise InvalidInput(
            "领导账号须用 --level 指定督办层级（1 中心主任、2 镇街领导、3 市领导）", field="level"
        )
    town = check_user_town(session, role=role, level=level, town=town)
    user = User(
        username=username,
        display_name=(display_name or username).strip(),
        role=role,
        password_hash=hash_password(password),
        expert_id=expert_id,
        level=level if role == Role.leader else None,
        town=town,
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "cli",
        action="user.create",
        entity="user",
        entity_id=user.id,
        after={"username": user.username, "role": user.role, "level": user.level, "town": user.town},
    )
    return user


def check_user_town(session: Session, *, role: str, level: int | None, town: str | None) -> str | None:
    """A user's town, from the dictionary. A town leader (level 2) must have one: without it they
    would be limited to nothing (models.access.scope_town), or, as before, see every town."""
    if not (town or "").strip():
        if role == Role.leader and level == 2:
            raise InvalidInput("镇街领导（2级）须指定所属镇街（命令行用 --town）", field="town")
        return None
    return check_town(session, town)
