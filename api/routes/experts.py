"""The expert bank (专家库)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import ColumnElement, or_
from sqlmodel import col, select

from api.deps import AdminUser, CurrentUser, IdPath, Offset, SearchText, SessionDep, TownQuery
from api.errors import ERROR_RESPONSES
from api.idempotency import IDEMPOTENT, IdempotentRoute
from flows import experts
from models.case_queries import active_case_counts
from models.db import id_of, session_scope, utcnow
from models.enums import Category, ExpertKind
from models.expert import Expert
from models.public import ExpertPublic, ExpertsPublic
from models.schemas import ExpertCreate, ExpertUpdate

router = APIRouter(
    prefix="/experts", tags=["experts"], responses=ERROR_RESPONSES, route_class=IdempotentRoute
)


@router.get("", response_model=ExpertsPublic, summary="专家库")
def list_experts(
    session: SessionDep,
    user: CurrentUser,
    kind: ExpertKind | None = None,
    specialty: Category | None = None,
    town: TownQuery = None,
    q: SearchText = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict:
    conditions: list[ColumnElement[bool]] = []
    if kind:
        conditions.append(col(Expert.kind) == kind)
    if active is not None:
        conditions.append(col(Expert.active).is_(active))
    if q:
        conditions.append(or_(col(Expert.name).like(f"%{q}%"), col(Expert.organization).like(f"%{q}%")))
    rows = session.exec(select(Expert).where(*conditions).order_by(col(Expert.id))).all()
    # JSON list fields are filtered here: the bank is hundreds of rows, not millions.
    if specialty:
        rows = [e for e in rows if specialty.value in (e.specialties or [])]
    if town:
        rows = [e for e in rows if not e.towns or town in e.towns]
    total = len(rows)
    page = rows[offset : offset + limit]
    load = active_case_counts(session, [id_of(e) for e in page])
    return {
        "items": [ExpertPublic.from_row(e, load.get(id_of(e), 0)) for e in page],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/{expert_id}", response_model=ExpertPublic, summary="专家详情")
def get_expert(expert_id: IdPath, session: SessionDep, user: CurrentUser) -> ExpertPublic:
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise HTTPException(404, detail="专家不存在")
    return ExpertPublic.from_row(expert, active_case_counts(session, [expert_id]).get(expert_id, 0))


@router.post(
    "",
    status_code=201,
    response_model=ExpertPublic,
    summary="新增专家",
    dependencies=[IDEMPOTENT],
)
def create_expert(request: Request, body: ExpertCreate, user: AdminUser) -> ExpertPublic:
    with session_scope(request.app.state.engine, write=True) as session:
        expert = experts.create_expert(session=session, data=body, actor=user, now=utcnow())
        return ExpertPublic.from_row(expert)


@router.patch("/{expert_id}", response_model=ExpertPublic, summary="修改专家信息")
def update_expert(expert_id: IdPath, request: Request, body: ExpertUpdate, user: AdminUser) -> ExpertPublic:
    with session_scope(request.app.state.engine, write=True) as session:
        expert = experts.update_expert(
            session=session,
            expert_id=expert_id,
            changes=body.model_dump(mode="json", exclude_unset=True, exclude={"version"}),
            version=body.version,
            actor=user,
            now=utcnow(),
        )
        return ExpertPublic.from_row(expert, active_case_counts(session, [expert_id]).get(expert_id, 0))
