"""What a case waits for next, and on whom: the leaders' 督办 list shows it beside each case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from models.agreement import Agreement, AgreementTerm, OralAgreement
from models.case import Case
from models.db import id_of
from models.enums import Stage
from models.expert import Expert, PanelMember
from models.mediation_session import MediationSession
from models.tz import CHINA


def waiting_on(session: Session, case: Case, now: datetime) -> tuple[str, str]:
    """What the case waits for next, and on whom (who has to act)."""
    return waiting_on_many(session, [case], now)[id_of(case)]


def waiting_on_many(session: Session, cases: Sequence[Case], now: datetime) -> dict[int, tuple[str, str]]:
    """`waiting_on` for a list of cases in a fixed number of queries (the holding list shows up to 200:
    two queries per row made it the slowest leaders' page at a province's scale)."""
    ids = [id_of(c) for c in cases]
    if not ids:
        return {}

    def in_stage(*stages: Stage) -> list[int]:
        return [id_of(c) for c in cases if c.stage in stages]

    leads: dict[int, str] = dict(
        session.exec(
            select(PanelMember.case_id, Expert.name)
            .join(Expert, col(PanelMember.expert_id) == Expert.id)
            .where(col(PanelMember.case_id).in_(ids), PanelMember.active, PanelMember.role == "lead")
        ).all()
    )
    upcoming: dict[int, MediationSession] = {}
    if meeting := in_stage(Stage.panel_formed, Stage.in_mediation):
        for held in session.exec(
            select(MediationSession)
            .where(
                col(MediationSession.case_id).in_(meeting),
                col(MediationSession.recorded_at).is_(None),
                col(MediationSession.cancelled_at).is_(None),  # a cancelled session is no next step
            )
            .order_by(col(MediationSession.scheduled_at), col(MediationSession.id))
        ).all():
            upcoming.setdefault(held.case_id, held)
    orals: dict[int, OralAgreement] = {}
    if agreed := in_stage(Stage.agreed):
        for oral in session.exec(
            select(OralAgreement)
            .where(col(OralAgreement.case_id).in_(agreed))
            .order_by(col(OralAgreement.id))
        ).all():
            orals.setdefault(oral.case_id, oral)
    terms: dict[int, AgreementTerm] = {}
    if following := in_stage(Stage.follow_up):
        for term, case_id in session.exec(
            select(AgreementTerm, Agreement.case_id)
            .join(Agreement, col(Agreement.id) == AgreementTerm.agreement_id)
            .where(col(Agreement.case_id).in_(following), col(AgreementTerm.performed).is_(False))
            # The earliest deadline first, a term without one last (the same order on both databases).
            .order_by(
                col(AgreementTerm.due_date).is_(None), col(AgreementTerm.due_date), col(AgreementTerm.seq)
            )
        ).all():
            terms.setdefault(case_id, term)
    steps = {}
    for case in cases:
        key = id_of(case)
        steps[key] = _step(case, leads.get(key), upcoming.get(key), orals.get(key), terms.get(key))
    return steps


def _step(
    case: Case,
    lead: str | None,
    upcoming: MediationSession | None,
    oral: OralAgreement | None,
    term: AgreementTerm | None,
) -> tuple[str, str]:
    stage = Stage(case.stage)
    if stage == Stage.registered:
        return "作出受理或不予受理决定", "中心受理窗口"
    if stage == Stage.accepted:
        return "组建调解专班", "中心受理窗口"
    if stage in (Stage.panel_formed, Stage.in_mediation):
        who = f"调解主持人 {lead}" if lead else "调解专班"
        if upcoming:
            when = upcoming.scheduled_at.astimezone(CHINA).strftime("%m-%d %H:%M")
            return f"召开第{upcoming.seq}次调解（{when}，{upcoming.location}）并记录结果", who
        return "安排下一次调解", who
    if stage == Stage.agreed:
        mediator = f"调解主持人 {lead}" if lead else "调解专班"
        if oral is None:
            return "制作并签署人民调解协议书", mediator
        if oral.agreement_id is not None:
            # 人民调解法 第28条: a party asked for it in writing; that agreement now governs.
            return f"签署人民调解协议书（{oral.written_requested_by}要求将口头协议制作成书面协议）", mediator
        return _oral_next(oral)
    if stage == Stage.follow_up:
        if term:
            due = f"，期限 {term.due_date.isoformat()}" if term.due_date else ""
            return f"履行第{term.seq}项：{term.obligation}{due}；履行后回访", f"义务人 {term.obligor}"
        return "回访并结案", "中心回访人员"
    return "结案归档", "中心受理窗口"


def _oral_next(oral: OralAgreement) -> tuple[str, str]:
    """An oral agreement (人民调解法 第28条) needs no written one: the case waits for its performance to be
    recorded, then for the staff's 结案 decision."""
    if oral.performed:
        return "作出结案决定（口头协议已履行）", "中心受理窗口"
    dated = sorted((t.get("due_date") or "9999-12-31", n, t) for n, t in enumerate(oral.terms or [], start=1))
    if not dated:
        return "登记口头协议履行情况", "中心受理窗口"
    _, seq, term = dated[0]
    due = f"，期限 {term['due_date']}" if term.get("due_date") else ""
    return (
        f"履行口头协议第{seq}项：{term.get('obligation', '')}{due}；履行后登记履行情况",
        f"义务人 {term.get('obligor', '')}",
    )
