"""Leaders: the backlog dashboard and the cases they hold (督办 / 包案) with what is waiting on whom."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, select

from api.pages.charts import bars_html, trend_svg
from api.pages.common import LEADERS, PageRoute, engine_of, render, require
from api.serializers import case_public, escalation_public
from flows.process import CHINA
from models.access import case_filter
from models.agreement import Agreement, AgreementTerm
from models.backlog import backlog_summary
from models.case import Case
from models.db import utcnow
from models.enums import Category, Role, Stage
from models.escalation import Escalation
from models.expert import Expert, PanelMember
from models.lifecycle import OPEN_STAGES
from models.mediation_session import MediationSession
from models.user import User

router = APIRouter(route_class=PageRoute)
LIST_LIMIT = 50


def _scope_town(user: User) -> str | None:
    return user.town if user.role == Role.leader and user.level == 2 and user.town else None


@router.get("/dashboard", include_in_schema=False)
def dashboard(request: Request) -> Response:
    user = require(request, *LEADERS)
    now = utcnow()
    town = _scope_town(user)
    open_stages = [s.value for s in OPEN_STAGES]
    with Session(engine_of(request)) as session:
        summary = backlog_summary(session, now=now, town=town)
        overdue_rows = session.exec(
            select(Case)
            .where(
                case_filter(user),
                Case.stage.in_(open_stages),
                Case.stage_due_at <= now,
                Case.clock_paused_since.is_(None),
            )
            .order_by(Case.stage_due_at)
            .limit(LIST_LIMIT)
        ).all()
        escalated_rows = session.exec(
            select(Case)
            .where(case_filter(user), Case.stage.in_(open_stages), Case.escalation_level >= 1)
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


def waiting_on(session: Session, case: Case, now: datetime) -> tuple[str, str]:
    """What the case waits for next, and on whom (who has to act)."""
    stage = Stage(case.stage)
    lead = session.exec(
        select(Expert.name)
        .join(PanelMember, PanelMember.expert_id == Expert.id)
        .where(PanelMember.case_id == case.id, PanelMember.active, PanelMember.role == "lead")
    ).first()
    if stage == Stage.registered:
        return "作出受理或不予受理决定", "中心受理窗口"
    if stage == Stage.accepted:
        return "组建调解专班", "中心受理窗口"
    if stage in (Stage.panel_formed, Stage.in_mediation):
        upcoming = session.exec(
            select(MediationSession)
            .where(MediationSession.case_id == case.id, MediationSession.recorded_at.is_(None))
            .order_by(MediationSession.scheduled_at)
        ).first()
        who = f"调解主持人 {lead}" if lead else "调解专班"
        if upcoming:
            when = upcoming.scheduled_at.astimezone(CHINA).strftime("%m-%d %H:%M")
            return f"召开第{upcoming.seq}次调解（{when}，{upcoming.location}）并记录结果", who
        return "安排下一次调解", who
    if stage == Stage.agreed:
        return "制作并签署人民调解协议书", f"调解主持人 {lead}" if lead else "调解专班"
    if stage == Stage.follow_up:
        term = session.exec(
            select(AgreementTerm)
            .join(Agreement, Agreement.id == AgreementTerm.agreement_id)
            .where(Agreement.case_id == case.id, AgreementTerm.performed.is_(False))
            .order_by(AgreementTerm.due_date)
        ).first()
        if term:
            due = f"，期限 {term.due_date.isoformat()}" if term.due_date else ""
            return f"履行第{term.seq}项：{term.obligation}{due}；履行后回访", f"义务人 {term.obligor}"
        return "回访并结案", "中心回访人员"
    return "结案归档", "中心受理窗口"


@router.get("/holding", include_in_schema=False)
def holding(request: Request) -> Response:
    user = require(request, *LEADERS)
    now = utcnow()
    with Session(engine_of(request)) as session:
        conditions = [Escalation.resolved_at.is_(None)]
        if user.role == Role.leader:
            conditions.append(Escalation.assignee_id == user.id)
        rows = session.exec(
            select(Escalation, Case)
            .join(Case, Case.id == Escalation.case_id)
            .where(*conditions)
            .order_by(Escalation.to_level.desc(), Escalation.id)
        ).all()
        items = []
        for esc, case in rows:
            what, who = waiting_on(session, case, now)
            items.append(
                {"e": escalation_public(esc, case), "c": case_public(case, now), "what": what, "who": who}
            )
    return render(request, "holding.html", {"items": items})
