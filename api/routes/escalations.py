"""Escalations (督办): the sweep and the leaders' lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlmodel import select

from api.deps import AdminUser, CurrentUser, SessionDep
from api.errors import ERROR_RESPONSES
from api.serializers import escalation_public
from flows.escalation import run_sweep
from models.case_queries import EscalationFilters, find_escalations
from models.db import utcnow
from models.public import EscalationsPublic, SweepPublic
from models.schemas import AwareDatetime
from models.user import User

router = APIRouter(prefix="/escalations", tags=["escalations"], responses=ERROR_RESPONSES)


class SweepRequest(BaseModel):
    now: AwareDatetime | None = None


@router.post("/sweep", response_model=SweepPublic, summary="运行督办扫描（管理员）")
def sweep(request: Request, user: AdminUser, body: SweepRequest | None = None) -> dict:
    now = body.now if body and body.now else utcnow()
    escalated = run_sweep(request.app.state.engine, now=now)
    return {"now": now.isoformat(), "escalated": escalated}


@router.get("", response_model=EscalationsPublic, summary="督办列表")
def list_escalations(
    session: SessionDep,
    user: CurrentUser,
    level: Annotated[int | None, Query(ge=1, le=3)] = None,
    open: bool | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    filters = EscalationFilters(level=level, open=open, mine=mine)
    rows, total = find_escalations(session, user, filters, limit=limit, offset=offset)
    assignee_ids = {e.assignee_id for e, _ in rows if e.assignee_id is not None}
    users = {u.id: u for u in session.exec(select(User).where(User.id.in_(assignee_ids))).all()}
    items = [escalation_public(e, c, users.get(e.assignee_id)) for e, c in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}
