"""The leaders' backlog dashboard."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import BacklogReader, SessionDep
from api.routes.cases import parse_now
from models.backlog import backlog_summary
from models.enums import Role

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("", summary="积案看板：按阶段、类别、镇街、时长；逾期数；调解成功率；平均结案天数")
def dashboard(
    session: SessionDep, user: BacklogReader, now: str | None = None, town: str | None = None
) -> dict:
    # A town leader sees their own town only.
    if user.role == Role.leader and user.level == 2 and user.town:
        town = user.town
    return backlog_summary(session, now=parse_now(now), town=town)
