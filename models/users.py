"""Creating and changing users (CLI, admin pages and demo share this): the rules an account must keep.
The admin's actions on existing accounts (edit, disable, reset a password) are in flows/users.py."""

from __future__ import annotations

import secrets
from typing import Annotated

from pydantic import Field
from sqlmodel import Session, col, select

from models.audit import record
from models.enums import Role
from models.expert import Expert
from models.lifecycle import InvalidInput
from models.passwords import hash_password
from models.schemas import WHOLE, Flag, Line, RefId, StrictModel
from models.town import check_town
from models.user import User
from models.validation import ValidationError, clean_text

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
    username = _line(username, field="username")
    display_name = _line(display_name, field="display_name") if display_name else None
    if not username or len(username) > 60:
        raise InvalidInput("用户名不能为空且不超过60个字符", field="username")
    if role not in {r.value for r in Role}:
        raise InvalidInput("角色应为 staff、lawyer、leader、admin 或 reviewer", field="role")
    check_password(password)
    check_signer_name(role=role, display_name=(display_name or username).strip())
    if session.exec(select(User).where(User.username == username)).first():
        raise InvalidInput(f"用户名“{username}”已存在", field="username")
    check_user_expert(session, role=role, expert_id=expert_id)
    check_user_level(role=role, level=level)
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


# Roles whose users sign documents by name (registrar, recorder, presiding mediator, lawyer).
SIGNING_ROLES = frozenset({Role.staff.value, Role.lawyer.value})
# Words that name a post, not a person: "专职调解员 老王", "窗口受理员 小陈", "周明律师" on a signature row
# tell a court nothing of who signed (issue 19).
ROLE_WORDS = (
    "调解员",
    "受理员",
    "律师",
    "领导",
    "主任",
    "管理员",
    "工作人员",
    "窗口",
    "记录员",
    "书记员",
    "法官",
    "民警",
    "专职",
    "科长",
    "局长",
    "镇长",
    "书记",
)


def role_word_in(name: str) -> str | None:
    """The first post word in `name`, or None when it reads as a person's name."""
    return next((word for word in ROLE_WORDS if word in name), None)


def check_signer_name(*, role: str, display_name: str) -> None:
    """A user who signs documents carries their real name; the post is shown separately (issue 19)."""
    if role not in SIGNING_ROLES:
        return
    if word := role_word_in(display_name):
        raise InvalidInput(
            f"姓名“{display_name}”含职务称谓“{word}”：签署文书的人员请填写本人真实姓名，职务另行显示",
            field="display_name",
        )


def _line(value: str, *, field: str) -> str:
    # The CLI's and the admin page's text takes the rule of every request body (models.schemas.Line).
    try:
        return clean_text(value, multiline=False)
    except ValidationError as exc:
        raise InvalidInput(exc.message, field=field) from None


def check_user_town(session: Session, *, role: str, level: int | None, town: str | None) -> str | None:
    """A user's town, from the dictionary. A town leader (level 2) must have one: without it they
    would be limited to nothing (models.access.scope_town), or, as before, see every town."""
    if not (town or "").strip():
        if role == Role.leader and level == 2:
            raise InvalidInput("镇街领导（2级）须指定所属镇街（命令行用 --town）", field="town")
        return None
    return check_town(session, town)


def check_password(password: str, *, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD_LENGTH} 位", field=field)


def check_user_expert(
    session: Session, *, role: str, expert_id: int | None, user_id: int | None = None
) -> None:
    """A lawyer works through their expert record (their cases are those they sit on); staff may be
    linked to theirs too (a mediator's own queue), so any role may name one that exists. One expert
    record belongs to at most one account (`user_id`: the account being edited), or a case's
    reminders would have two carriers and a mediator's queue two owners."""
    if role == Role.lawyer and expert_id is None:
        raise InvalidInput("律师账号须关联专家库中的律师（命令行用 --expert-id）", field="expert_id")
    if expert_id is None:
        return
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise InvalidInput(f"专家库中没有 id={expert_id} 的专家", field="expert_id")
    holders = select(User).where(col(User.expert_id) == expert_id)
    if user_id is not None:
        holders = holders.where(col(User.id) != user_id)
    holder = session.exec(holders.order_by(col(User.id))).first()
    if holder is not None:
        raise InvalidInput(
            f"专家“{expert.name}”已关联账号“{holder.display_name}”，一条专家记录只能关联一个账号",
            field="expert_id",
        )


def check_user_level(*, role: str, level: int | None) -> None:
    if role == Role.leader and level not in (1, 2, 3):
        raise InvalidInput(
            "领导账号须指定督办层级 1–3（1 中心主任、2 镇街领导、3 市领导；命令行用 --level）", field="level"
        )


# No 0/O, 1/l/I: the temporary password is read off a screen and typed by someone else.
_TEMPORARY_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TEMPORARY_PASSWORD_LENGTH = 12


def temporary_password() -> str:
    return "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(TEMPORARY_PASSWORD_LENGTH))


class UserUpdate(StrictModel):
    """`PATCH /users/{id}`: only the fields sent change; `level`, `town` and `expert_id` may be null.
    Text cleaned and types kept as every other request body (models.schemas.StrictModel)."""

    display_name: Line | None = Field(default=None, max_length=60, description="姓名（页面显示）")
    role: Role | None = None
    level: Annotated[int, Field(ge=1, le=3), WHOLE] | None = Field(
        default=None, description="领导督办层级：1 中心主任、2 镇街领导、3 市领导"
    )
    town: Line | None = Field(default=None, max_length=64, description="所属镇街（镇街领导必填，取自字典）")
    active: Flag | None = Field(default=None, description="false 停用：不能登录，已发令牌失效")
    expert_id: RefId | None = Field(default=None, description="关联的专家库记录")


class PasswordChange(StrictModel):
    """`POST /auth/password`: the user's own change, proven by the current (or temporary) password."""

    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200, description="当前密码（管理员重置后为临时密码）")
    new_password: str = Field(
        min_length=1, max_length=200, description=f"新密码，至少 {MIN_PASSWORD_LENGTH} 位"
    )
