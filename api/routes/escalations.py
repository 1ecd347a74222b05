"""Escalations (督办): the sweep and the leaders' lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlmodel import select

from api.deps import AdminUser, CurrentUser, SessionDep
from api.serializers import escalation_public
from flows.escalation import run_sweep
from models.access import case_filter
from models.case import Case
from models.db import utcnow
from models.enums import Role
from models.escalation import Escalation
from models.schemas import AwareDatetime
from models.user import User

router = APIRouter(prefix="/escalations", tags=["escalations"])


class SweepRequest(BaseModel):
    now: AwareDatetime | None = None


@router.post("/sweep", summary="运行督办扫描（管理员）")
def sweep(request: Request, user: AdminUser, body: SweepRequest | None = None) -> dict:
    now = body.now if body and body.now else utcnow()
    escalated = run_sweep(request.app.state.engine, now=now)
    return {"now": now.isoformat(), "escalated": escalated}


@router.get("", summary="督办列表")
def list_escalations(
    session: SessionDep,
    user: CurrentUser,
    level: Annotated[int | None, Query(ge=1, le=3)] = None,
    open: bool | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    conditions = [case_filter(user)]
    if level is not None:
        conditions.append(Escalation.to_level == level)
    if open is True:
        conditions.append(Escalation.resolved_at.is_(None))
    elif open is False:
        conditions.append(Escalation.resolved_at.is_not(None))
    if mine:
        conditions.append(Escalation.assignee_id == user.id)
    query = select(Escalation, Case).join(Case, Case.id == Escalation.case_id).where(*conditions)
    rows = session.exec(query.order_by(Escalation.id.desc())).all()
    users = {u.id: u for u in session.exec(select(User).where(User.role == Role.leader)).all()}
    items = [escalation_public(e, c, users.get(e.assignee_id)) for e, c in rows[offset : offset + limit]]
    return {"items": items, "total": len(rows), "limit": limit, "offset": offset}
