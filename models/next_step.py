"""What a case waits for next, and on whom: the leaders' 督办 list shows it beside each case."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from models.agreement import Agreement, AgreementTerm
from models.case import Case
from models.deadlines import CHINA
from models.enums import Stage
from models.expert import Expert, PanelMember
from models.mediation_session import MediationSession


def waiting_on(session: Session, case: Case, now: datetime) -> tuple[str, str]:
    """What the case waits for next, and on whom (who has to act)."""
    stage = Stage(case.stage)
    lead = session.exec(
        select(Expert.name)
        .join(PanelMember, col(PanelMember.expert_id) == Expert.id)
        .where(PanelMember.case_id == case.id, PanelMember.active, PanelMember.role == "lead")
    ).first()
    if stage == Stage.registered:
        return "作出受理或不予受理决定", "中心受理窗口"
    if stage == Stage.accepted:
        return "组建调解专班", "中心受理窗口"
    if stage in (Stage.panel_formed, Stage.in_mediation):
        upcoming = session.exec(
            select(MediationSession)
            .where(MediationSession.case_id == case.id, col(MediationSession.recorded_at).is_(None))
            .order_by(col(MediationSession.scheduled_at))
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
            .join(Agreement, col(Agreement.id) == AgreementTerm.agreement_id)
            .where(Agreement.case_id == case.id, col(AgreementTerm.performed).is_(False))
            .order_by(col(AgreementTerm.due_date))
        ).first()
        if term:
            due = f"，期限 {term.due_date.isoformat()}" if term.due_date else ""
            return f"履行第{term.seq}项：{term.obligation}{due}；履行后回访", f"义务人 {term.obligor}"
        return "回访并结案", "中心回访人员"
    return "结案归档", "中心受理窗口"
