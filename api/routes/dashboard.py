"""The leaders' backlog dashboard."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import BacklogReader, SessionDep, TownQuery
from api.errors import ERROR_RESPONSES
from api.routes.cases import parse_now
from models.access import scope_town
from models.backlog import backlog_summary
from models.public import DashboardPublic

router = APIRouter(prefix="/dashboard", tags=["dashboard"], responses=ERROR_RESPONSES)


@router.get(
    "",
    response_model=DashboardPublic,
    summary="积案看板：按阶段、类别、镇街、时长；逾期数；调解成功率；平均结案天数",
)
def dashboard(
    session: SessionDep, user: BacklogReader, now: str | None = None, town: TownQuery = None
) -> dict:
    # A town leader sees their own town only (server-side, whatever `town` was asked for).
    town = scope_town(user) or town
    return backlog_summary(session, now=parse_now(now), town=town)
