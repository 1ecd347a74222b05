"""The expert bank's actions (新增 / 修改专家), shared by the JSON API and the admin pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from models.audit import record, without_personal_data
from models.expert import Expert
from models.lifecycle import NotFound, StaleVersion
from models.schemas import ExpertCreate
from models.town import check_towns
from models.user import User


def create_expert(*, session: Session, data: ExpertCreate, actor: User, now: datetime) -> Expert:
    fields = data.model_dump(mode="json")
    fields["towns"] = check_towns(session, fields["towns"])
    expert = Expert(**fields)
    session.add(expert)
    session.flush()
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="expert.create",
        entity="expert",
        entity_id=expert.id,
        after=without_personal_data(fields),
        at=now,
    )
    return expert


def update_expert(
    *,
    session: Session,
    expert_id: int,
    changes: dict[str, Any],
    version: int | None,
    actor: User,
    now: datetime,
) -> Expert:
    """Apply `changes` (JSON-ready field values) to the expert; a stale `version` is refused."""
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise NotFound("专家不存在")
    if version is not None and version != expert.version:
        raise StaleVersion("专家信息已被他人修改，请刷新后重试")
    if changes.get("towns") is not None:
        changes = {**changes, "towns": check_towns(session, changes["towns"])}
    before = without_personal_data({k: getattr(expert, k) for k in changes})
    for key, value in changes.items():
        setattr(expert, key, value)
    session.add(expert)
    session.flush()
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="expert.update",
        entity="expert",
        entity_id=expert.id,
        before=before,
        after=without_personal_data(changes),
        at=now,
    )
    return expert
