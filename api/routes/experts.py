"""The expert bank (专家库)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import or_
from sqlmodel import select

from api.deps import AdminUser, CurrentUser, SessionDep
from api.serializers import active_case_counts, expert_public
from models.audit import record
from models.db import session_scope
from models.enums import Category, ExpertKind
from models.expert import Expert
from models.lifecycle import StaleVersion
from models.schemas import ExpertCreate, ExpertUpdate

router = APIRouter(prefix="/experts", tags=["experts"])


@router.get("", summary="专家库")
def list_experts(
    session: SessionDep,
    user: CurrentUser,
    kind: ExpertKind | None = None,
    specialty: Category | None = None,
    town: str | None = None,
    q: str | None = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    conditions = []
    if kind:
        conditions.append(Expert.kind == kind)
    if active is not None:
        conditions.append(Expert.active.is_(active))
    if q:
        conditions.append(or_(Expert.name.like(f"%{q}%"), Expert.organization.like(f"%{q}%")))
    rows = session.exec(select(Expert).where(*conditions).order_by(Expert.id)).all()
    # JSON list fields are filtered here: the bank is hundreds of rows, not millions.
    if specialty:
        rows = [e for e in rows if specialty.value in (e.specialties or [])]
    if town:
        rows = [e for e in rows if not e.towns or town in e.towns]
    total = len(rows)
    page = rows[offset : offset + limit]
    load = active_case_counts(session, [e.id for e in page])
    return {
        "items": [expert_public(e, load.get(e.id, 0)) for e in page],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/{expert_id}", summary="专家详情")
def get_expert(expert_id: int, session: SessionDep, user: CurrentUser) -> dict:
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise HTTPException(404, detail="专家不存在")
    return expert_public(expert, active_case_counts(session, [expert_id]).get(expert_id, 0))


@router.post("", status_code=201, summary="新增专家")
def create_expert(request: Request, body: ExpertCreate, user: AdminUser) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        expert = Expert(**body.model_dump(mode="json"))
        session.add(expert)
        session.flush()
        record(
            session,
            actor_id=user.id,
            actor_name=user.username,
            action="expert.create",
            entity="expert",
            entity_id=expert.id,
            after=body.model_dump(mode="json", exclude={"id_number"}),
        )
        return expert_public(expert)


@router.patch("/{expert_id}", summary="修改专家信息")
def update_expert(expert_id: int, request: Request, body: ExpertUpdate, user: AdminUser) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        expert = session.get(Expert, expert_id)
        if expert is None:
            raise HTTPException(404, detail="专家不存在")
        if body.version is not None and body.version != expert.version:
            raise StaleVersion("专家信息已被他人修改，请刷新后重试")
        changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
        before = {k: getattr(expert, k) for k in changes if k != "id_number"}
        for key, value in changes.items():
            setattr(expert, key, value)
        session.add(expert)
        session.flush()
        record(
            session,
            actor_id=user.id,
            actor_name=user.username,
            action="expert.update",
            entity="expert",
            entity_id=expert.id,
            before=before,
            after={k: v for k, v in changes.items() if k != "id_number"},
        )
        return expert_public(expert, active_case_counts(session, [expert_id]).get(expert_id, 0))
