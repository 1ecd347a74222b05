"""Leaders: the backlog dashboard and the cases they hold (督办 / 包案) with what is waiting on whom."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, select

from api.pages.charts import bars_html, trend_svg
from api.pages.common import LEADERS, PageRoute, engine_of, render, require
from api.serializers import case_public, escalation_public
from models.access import case_filter, scope_town
from models.backlog import backlog_summary
from models.case import Case
from models.case_queries import CaseFilters, EscalationFilters, find_cases, find_escalations, supervised_sql
from models.db import utcnow
from models.enums import Category, Role, Stage
from models.escalation import Escalation
from models.next_step import waiting_on
from models.user import User

router = APIRouter(route_class=PageRoute)
LIST_LIMIT = 50
HOLDING_LIMIT = 200


@router.get("/dashboard", include_in_schema=False)
def dashboard(request: Request) -> Response:
    user = require(request, *LEADERS)
    now = utcnow()
    town = scope_town(user)
    with Session(engine_of(request)) as session:
        summary = backlog_summary(session, now=now, town=town)
        overdue_rows = find_cases(
            session, user, CaseFilters(overdue=True), now=now, limit=LIST_LIMIT, order="due"
        ).rows
        escalated_rows = session.exec(
            select(Case)
            .where(case_filter(user), supervised_sql())
            .order_by(Case.escalation_level.desc(), Case.stage_due_at)
            .limit(LIST_LIMIT)
        ).all()
        assignees = _open_assignees(session, [c.id for c in escalated_rows])
    overdue = [case_public(c, now) for c in overdue_rows]
    escalated = [{**case_public(c, now), "assignee": assignees.get(c.id)} for c in escalated_rows]
    by_category = {Category(k).label: v for k, v in summary["by_category"].items()}
    return render(
        request,
        "dashboard.html",
        {
            "s": summary,
            "town": town,
            "overdue": overdue,
            "escalated": escalated,
            "stage_bars": bars_html({Stage(k).label: v for k, v in summary["by_stage"].items()}),
            "age_bars": bars_html(summary["by_age"]),
            "town_bars": bars_html(summary["by_town"]),
            "category_bars": bars_html(by_category),
            "trend": trend_svg(summary["trend"]),
            "my_level": user.level,
        },
    )


def _open_assignees(session: Session, case_ids: list[int]) -> dict[int, dict]:
    if not case_ids:
        return {}
    rows = session.exec(
        select(Escalation, User)
        .join(User, User.id == Escalation.assignee_id, isouter=True)
        .where(Escalation.case_id.in_(case_ids), Escalation.resolved_at.is_(None))
        .order_by(Escalation.id)
    ).all()
    out: dict[int, dict] = {}
    for esc, assignee in rows:
        out[esc.case_id] = {
            "name": assignee.display_name if assignee else "（未指定）",
            "since": esc.created_at,
            "assignee_id": esc.assignee_id,
        }
    return out


@router.get("/holding", include_in_schema=False)
def holding(request: Request) -> Response:
    user = require(request, *LEADERS)
    now = utcnow()
    with Session(engine_of(request)) as session:
        # A leader sees the 督办 assigned to them; an admin sees every open one.
        filters = EscalationFilters(open=True, mine=user.role == Role.leader)
        rows, _total = find_escalations(session, user, filters, limit=HOLDING_LIMIT)
        items = []
        for esc, case in rows:
            what, who = waiting_on(session, case, now)
            items.append(
                {"e": escalation_public(esc, case), "c": case_public(case, now), "what": what, "who": who}
            )
    return render(request, "holding.html", {"items": items})
