"""Escalations (督办): the sweep, the leaders' lists, and the loop (签收, 批示, 催办, 承办反馈)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import Field
from sqlmodel import Session, col, select

from api.actions import act
from api.deps import AdminUser, CurrentUser, Offset, SessionDep
from api.errors import ERROR_RESPONSES
from api.idempotency import IDEMPOTENT, IdempotentRoute
from flows import supervision
from flows.escalation import run_sweep
from models.case import Case
from models.case_queries import EscalationFilters, find_escalations
from models.db import id_of, utcnow
from models.escalation import Escalation, histories
from models.public import EscalationListItemPublic, EscalationsPublic, SweepPublic
from models.schemas import AwareDatetime, IsoDate, RequiredText, StrictModel
from models.user import User
from runtime.relay import after_commit

router = APIRouter(
    prefix="/escalations", tags=["escalations"], responses=ERROR_RESPONSES, route_class=IdempotentRoute
)
# Ids are database integers: a larger number names nothing (and would overflow PostgreSQL's INTEGER).
EscalationId = Annotated[int, Path(ge=1, le=2_147_483_647, description="督办记录编号")]


class SweepRequest(StrictModel):
    now: AwareDatetime | None = None


class AcknowledgeRequest(StrictModel):
    pass


class InstructionCreate(StrictModel):
    text: RequiredText = Field(max_length=2000, description="批示内容")
    reply_by: IsoDate = Field(description="反馈期限（不早于今天；当日全天有效）")


class UrgeCreate(StrictModel):
    note: str | None = Field(default=None, max_length=2000, description="催办说明（可空）")


class FeedbackCreate(StrictModel):
    text: RequiredText = Field(max_length=2000, description="承办反馈内容")


@router.post("/sweep", response_model=SweepPublic, summary="运行督办扫描（管理员）")
def sweep(request: Request, user: AdminUser, body: SweepRequest | None = None) -> dict:
    now = body.now if body and body.now else utcnow()
    escalated = run_sweep(request.app.state.engine, now=now)
    after_commit()
    return {"now": now.isoformat(), "escalated": escalated}


def _items(session: Session, rows: list[tuple[Escalation, Case]]) -> list[EscalationListItemPublic]:
    assignee_ids = {e.assignee_id for e, _ in rows if e.assignee_id is not None}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(assignee_ids))).all()}
    steps = histories(session, [id_of(e) for e, _ in rows])
    return [
        EscalationListItemPublic.from_rows(e, c, users.get(e.assignee_id), steps[id_of(e)]) for e, c in rows
    ]


@router.get("", response_model=EscalationsPublic, summary="督办列表")
def list_escalations(
    session: SessionDep,
    user: CurrentUser,
    level: Annotated[int | None, Query(ge=1, le=3)] = None,
    open: bool | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict:
    filters = EscalationFilters(level=level, open=open, mine=mine)
    rows, total = find_escalations(session, user, filters, limit=limit, offset=offset)
    return {"items": _items(session, rows), "total": total, "limit": limit, "offset": offset}


def _on_escalation(
    request: Request, user: User, escalation_id: int, action: Callable[..., Any], **kwargs: Any
) -> EscalationListItemPublic:
    """Run one loop action like every case action (`act`: visibility, one transaction, relay after)."""
    with Session(request.app.state.engine) as session:
        esc = session.get(Escalation, escalation_id)
        case_id = esc.case_id if esc is not None else None
    if case_id is None:
        raise HTTPException(status_code=404, detail="督办记录不存在")

    def render(session: Session, case: Case, esc: Escalation) -> EscalationListItemPublic:
        session.refresh(esc)
        return _items(session, [(esc, case)])[0]

    return act(request, user, case_id, action, render=render, escalation_id=escalation_id, **kwargs)


@router.post("/{escalation_id}/acknowledge", response_model=EscalationListItemPublic, summary="签收督办")
def acknowledge(
    request: Request, escalation_id: EscalationId, user: CurrentUser, body: AcknowledgeRequest | None = None
) -> EscalationListItemPublic:
    return _on_escalation(request, user, escalation_id, supervision.acknowledge)


@router.post(
    "/{escalation_id}/instructions",
    response_model=EscalationListItemPublic,
    summary="领导批示",
    dependencies=[IDEMPOTENT],
)
def instruct(
    request: Request, escalation_id: EscalationId, body: InstructionCreate, user: CurrentUser
) -> EscalationListItemPublic:
    return _on_escalation(
        request, user, escalation_id, supervision.instruct, text=body.text, reply_by=body.reply_by
    )


@router.post(
    "/{escalation_id}/urge",
    response_model=EscalationListItemPublic,
    summary="催办",
    dependencies=[IDEMPOTENT],
)
def urge(
    request: Request, escalation_id: EscalationId, user: CurrentUser, body: UrgeCreate | None = None
) -> EscalationListItemPublic:
    return _on_escalation(request, user, escalation_id, supervision.urge, note=body.note if body else None)


@router.post(
    "/{escalation_id}/feedback",
    response_model=EscalationListItemPublic,
    summary="承办反馈",
    dependencies=[IDEMPOTENT],
)
def feedback(
    request: Request, escalation_id: EscalationId, body: FeedbackCreate, user: CurrentUser
) -> EscalationListItemPublic:
    return _on_escalation(request, user, escalation_id, supervision.feedback, text=body.text)
