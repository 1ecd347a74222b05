"""Leaders: the backlog dashboard and the cases they hold (督办 / 包案) with what is waiting on whom."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.deps import IdPath
from api.html import engine_of, not_found, redirect, render
from api.pages.actions import run_action
from api.pages.charts import bars_html, trend_svg
from api.pages.common import EVERYONE, LEADERS, PageRoute, form_of, require
from flows import supervision
from models.access import case_filter, scope_town
from models.backlog import backlog_summary
from models.case import Case
from models.case_queries import CaseFilters, EscalationFilters, find_cases, find_escalations, supervised_sql
from models.db import id_of, utcnow
from models.deadlines import china_date
from models.enums import Category, Role, Stage, SubsidyGrade
from models.escalation import Escalation, allowed_actions, awaits_leader, histories
from models.next_step import waiting_on_many
from models.public import CasePublic, EscalationListItemPublic
from models.statistics import quality_summary
from models.user import User

router = APIRouter(route_class=PageRoute)
LIST_LIMIT = 50
HOLDING_LIMIT = 200
ENDED_DAYS = 30  # how long an ended 督办 stays on the leader's page


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
            .order_by(col(Case.escalation_level).desc(), col(Case.stage_due_at))
            .limit(LIST_LIMIT)
        ).all()
        assignees = _open_assignees(session, [id_of(c) for c in escalated_rows])
        # "My 督办" from the holding page's own query, so the two can never disagree.
        mine_rows, mine_total = find_escalations(
            session, user, EscalationFilters(open=True, mine=True), limit=HOLDING_LIMIT
        )
        mine_to_act = sum(awaits_leader(e, user.id) for e, _ in mine_rows)
        # 调解质量 of this month's cases (registered since the 1st, China time): models/statistics.py.
        today = china_date(now)
        quality = quality_summary(
            session, scope=case_filter(user), date_from=today.replace(day=1), date_to=today
        )
    overdue = [CasePublic.from_row(c, now).model_dump(mode="json") for c in overdue_rows]
    escalated = [
        {**CasePublic.from_row(c, now).model_dump(mode="json"), "assignee": assignees.get(id_of(c))}
        for c in escalated_rows
    ]
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
            "mine_total": mine_total if user.role == Role.leader else None,
            "mine_to_act": mine_to_act,
            "quality": quality,
            "grade_labels": {g.value: g.label for g in SubsidyGrade},
        },
    )


def _open_assignees(session: Session, case_ids: list[int]) -> dict[int, dict]:
    if not case_ids:
        return {}
    rows = session.exec(
        select(Escalation, User)
        .join(User, col(User.id) == col(Escalation.assignee_id), isouter=True)
        .where(col(Escalation.case_id).in_(case_ids), col(Escalation.resolved_at).is_(None))
        .order_by(col(Escalation.id))
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
        # A leader sees the 督办 assigned to them; an admin sees every open one. The same query as
        # `GET /escalations?open=true&mine=true` and the dashboard's figure of "my 督办".
        filters = EscalationFilters(open=True, mine=user.role == Role.leader)
        rows, _total = find_escalations(session, user, filters, limit=HOLDING_LIMIT)
        items = _holding_items(session, user, rows, now)
        # A 督办 that ended (its case closed, or the loop completed) stays in sight as ended, with why.
        ended_filters = EscalationFilters(
            open=False, mine=user.role == Role.leader, resolved_since=now - timedelta(days=ENDED_DAYS)
        )
        ended_rows, _ = find_escalations(session, user, ended_filters, limit=LIST_LIMIT)
        ended = _holding_items(session, user, ended_rows, now)
    # Mine to act on first (not yet signed, or awaiting my 批示); then those waiting on the handlers.
    to_act = [it for it in items if it["to_act"]]
    waiting = [it for it in items if not it["to_act"]]
    return render(
        request,
        "holding.html",
        {
            "to_act": to_act,
            "waiting": waiting,
            "ended": ended,
            "ended_days": ENDED_DAYS,
            "today": china_date(now).isoformat(),
        },
    )


def _holding_items(
    session: Session, user: User, rows: list[tuple[Escalation, Case]], now: datetime
) -> list[dict]:
    assignee_ids = {e.assignee_id for e, _ in rows if e.assignee_id is not None}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(assignee_ids))).all()}
    steps = histories(session, [id_of(e) for e, _ in rows])
    next_steps = waiting_on_many(session, [case for _, case in rows], now)
    items = []
    for esc, case in rows:
        what, who = next_steps[id_of(case)]
        items.append(
            {
                "e": EscalationListItemPublic.from_rows(
                    esc, case, users.get(esc.assignee_id), steps[id_of(esc)]
                ).model_dump(mode="json"),
                "c": CasePublic.from_row(case, now).model_dump(mode="json"),
                "what": what,
                "who": who,
                "actions": allowed_actions(esc, user_id=user.id, role=user.role, level=user.level),
                "to_act": awaits_leader(esc, user.id),
            }
        )
    return items


# --- The loop's actions from the pages (the same action functions as the JSON routes) -----------------


def _back(form: Mapping[str, Any], case_id: int) -> str:
    """Back to the holding list or to the case page, never to an address taken from the form."""
    return "/holding" if form.get("back") == "holding" else f"/cases/{case_id}#escalations"


def _case_of_escalation(request: Request, escalation_id: int) -> int:
    if not 1 <= escalation_id <= 2_147_483_647:
        raise not_found("督办记录不存在")
    with Session(engine_of(request)) as session:
        esc = session.get(Escalation, escalation_id)
        if esc is None:
            raise not_found("督办记录不存在")
        return esc.case_id


def _form_text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/escalations/{escalation_id}/acknowledge", include_in_schema=False)
async def acknowledge_page(escalation_id: IdPath, request: Request) -> Response:
    user = require(request, *EVERYONE)
    form = await form_of(request)
    case_id = _case_of_escalation(request, escalation_id)
    return run_action(
        request,
        user,
        case_id,
        supervision.acknowledge,
        done="已签收",
        back=_back(form, case_id),
        escalation_id=escalation_id,
    )


@router.post("/escalations/{escalation_id}/instructions", include_in_schema=False)
async def instruct_page(escalation_id: IdPath, request: Request) -> Response:
    user = require(request, *EVERYONE)
    form = await form_of(request)
    case_id = _case_of_escalation(request, escalation_id)
    back = _back(form, case_id)
    try:
        reply_by = date.fromisoformat(_form_text(form, "reply_by").strip())
    except ValueError:
        return redirect(back, flash="反馈期限：请填写日期（年-月-日）", kind="error")
    return run_action(
        request,
        user,
        case_id,
        supervision.instruct,
        done="批示已送达承办人",
        back=back,
        escalation_id=escalation_id,
        text=_form_text(form, "text"),
        reply_by=reply_by,
    )


@router.post("/escalations/{escalation_id}/urge", include_in_schema=False)
async def urge_page(escalation_id: IdPath, request: Request) -> Response:
    user = require(request, *EVERYONE)
    form = await form_of(request)
    case_id = _case_of_escalation(request, escalation_id)
    return run_action(
        request,
        user,
        case_id,
        supervision.urge,
        done="已催办",
        back=_back(form, case_id),
        escalation_id=escalation_id,
        note=_form_text(form, "note").strip() or None,
    )


@router.post("/escalations/{escalation_id}/feedback", include_in_schema=False)
async def feedback_page(escalation_id: IdPath, request: Request) -> Response:
    user = require(request, *EVERYONE)
    form = await form_of(request)
    case_id = _case_of_escalation(request, escalation_id)
    return run_action(
        request,
        user,
        case_id,
        supervision.feedback,
        done="承办反馈已提交",
        back=_back(form, case_id),
        escalation_id=escalation_id,
        text=_form_text(form, "text"),
    )


def escalation_actions(user: User, escalations: list[dict]) -> dict[int, list[str]]:
    """For a page listing escalations as dicts (the case page): what this user may do on each."""
    return {
        e["id"]: allowed_actions(SimpleNamespace(**e), user_id=user.id, role=user.role, level=user.level)
        for e in escalations
    }
