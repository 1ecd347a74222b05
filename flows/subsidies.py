"""以案定补 actions: the center grades a closed, agreed case; each level approves in turn. The rules (grades,
exclusions, levels) are in models/subsidy.py; the amounts in the center's settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.access import can_see, case_filter
from models.agreement import Agreement, OralAgreement
from models.audit import record
from models.binding import present_names, validly_present
from models.case import Case
from models.center_settings import current_values
from models.deadlines import china_date
from models.enums import PanelRole, ReviewStatus, Stage, SubsidyGrade, SubsidyStatus
from models.expert import Expert, PanelMember
from models.lifecycle import Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from models.mediation_session import MediationSession
from models.party import Party
from models.review import Review
from models.roles import STAFF
from models.subsidy import (
    GRADE_SETTING,
    LEVELS,
    PAID,
    CaseFacts,
    Subsidy,
    level_label,
    level_of,
    next_level,
    propose_grade,
)
from models.user import User

NOT_GRADABLE = "以案定补只适用于已结案且达成调解协议的案件"


def case_facts(session: Session, case: Case) -> CaseFacts:
    held = session.exec(
        select(func.count()).where(
            MediationSession.case_id == case.id, col(MediationSession.held_at).is_not(None)
        )
    ).one()
    written = session.exec(select(Agreement.id).where(Agreement.case_id == case.id)).first() is not None
    return CaseFacts(
        is_mass=case.is_mass,
        headcount=case.headcount,
        amount=case.amount_involved,
        sessions=int(held),
        written_agreement=written,
        police_reported=case.police_reported,
    )


def exclusions(session: Session, case_id: int) -> list[str]:
    """Why the case may not be paid now (empty: it may)."""
    out: list[str] = []
    oral = session.exec(select(OralAgreement).where(OralAgreement.case_id == case_id)).first()
    if oral is not None and oral.agreement_id is None:
        # 人民调解法 第28条: an oral agreement lives only in the session record; it must show the parties.
        ms = session.get(MediationSession, oral.session_id)
        present = present_names([ms.present or []]) if ms else set()
        parties = list(session.exec(select(Party).where(Party.case_id == case_id)).all())
        absent = [p.name for p in parties if not validly_present(p, parties, present)]
        if absent:
            out.append(f"口头协议的调解记录未能证明当事人到场（{'、'.join(absent)}）")
    failed = session.exec(
        select(func.count()).where(Review.case_id == case_id, Review.status == ReviewStatus.failed.value)
    ).one()
    if failed:
        out.append("案件评查不合格，评查问题尚未全部答复整改")
    return out


def presiding_mediator(session: Session, case_id: int) -> Expert | None:
    return session.exec(
        select(Expert)
        .join(PanelMember, col(PanelMember.expert_id) == col(Expert.id))
        .where(
            PanelMember.case_id == case_id,
            col(PanelMember.active),
            PanelMember.role == PanelRole.lead.value,
        )
    ).first()


def grade_case(*, session: Session, case: Case, grade: str | None, actor: User, now: datetime) -> Subsidy:
    """The center sets the grade (the proposal from the case when none is given); a new grade only
    before the first approval."""
    if actor.role not in STAFF:
        raise Forbidden("以案定补的定档由调解中心工作人员办理")
    if case.stage != Stage.closed or case.outcome != "agreed":
        raise TransitionNotAllowed(NOT_GRADABLE)
    mediator = presiding_mediator(session, case.id or 0)
    if mediator is None:
        raise TransitionNotAllowed("本案没有调解主持人，无法按调解员计发补贴")
    proposed = propose_grade(case_facts(session, case))
    chosen = SubsidyGrade(grade) if grade else proposed
    amount = Decimal(current_values(session)[GRADE_SETTING[chosen.value]])
    subsidy = session.exec(select(Subsidy).where(Subsidy.case_id == case.id)).first()
    if subsidy is not None and subsidy.status != SubsidyStatus.graded:
        raise TransitionNotAllowed(f"补贴已{level_label(subsidy.approvals[-1]['level'])}审核，不能再改档")
    closed = china_date(case.closed_at or now)
    if subsidy is None:
        subsidy = Subsidy(
            case_id=case.id or 0, mediator=mediator.name, month="", proposed_grade="", grade="", amount=amount
        )
    subsidy.expert_id, subsidy.mediator = mediator.id, mediator.name
    subsidy.month = f"{closed.year:04d}-{closed.month:02d}"
    subsidy.proposed_grade, subsidy.grade, subsidy.amount = proposed.value, chosen.value, amount
    subsidy.graded_by, subsidy.graded_at = actor.id, now
    session.add(subsidy)
    session.flush()
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="subsidy.grade",
        entity="subsidy",
        entity_id=subsidy.id,
        case_id=case.id,
        at=now,
        after={"grade": chosen.value, "proposed": proposed.value, "amount": str(amount)},
    )
    return subsidy


def visible_subsidy(session: Session, user: User, subsidy_id: int) -> Subsidy:
    subsidy = session.get(Subsidy, subsidy_id)
    if subsidy is None or not can_see(session, user, subsidy.case_id):
        raise NotFound("补贴记录不存在或您无权查看")
    return subsidy


def approve_subsidy(*, session: Session, subsidy_id: int, actor: User, now: datetime) -> Subsidy:
    """One level's approval: the center, then the 司法所 of the case's town, then the 司法局."""
    subsidy = visible_subsidy(session, actor, subsidy_id)
    case = session.get(Case, subsidy.case_id)
    assert case is not None
    mine = level_of(actor, case.town)
    if mine is None:
        raise Forbidden("您的账号不能审核以案定补（调解中心主任、案件所在镇街的司法所、县司法局依次审核）")
    waiting = next_level(subsidy.status)
    if waiting is None:
        raise TransitionNotAllowed("补贴已经司法局审批，无需再审核")
    if waiting[0] != mine:
        raise TransitionNotAllowed(f"补贴当前待{waiting[1]}审核，{level_label(mine)}不能越级或重复审核")
    blocked = exclusions(session, case.id or 0)
    if blocked:
        raise TransitionNotAllowed(f"不予补贴：{'；'.join(blocked)}")
    target = next(to for lv, _, _, to in LEVELS if lv == mine)
    subsidy.status = target
    subsidy.approvals = [
        *subsidy.approvals,
        {"level": mine, "by": actor.id, "name": actor.display_name, "at": now.isoformat()},
    ]
    session.add(subsidy)
    session.flush()
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="subsidy.approve",
        entity="subsidy",
        entity_id=subsidy.id,
        case_id=case.id,
        at=now,
        after={"level": mine, "status": target},
    )
    return subsidy


def check_month(month: str) -> str:
    parts = month.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise InvalidInput("月份格式应为 YYYY-MM，如 2026-12", field="month")
    if not 1 <= int(parts[1]) <= 12 or not 2000 <= int(parts[0]) <= 2100:
        raise InvalidInput("月份格式应为 YYYY-MM，如 2026-12", field="month")
    return month


def subsidy_rows(session: Session, user: User, month: str) -> list[dict[str, Any]]:
    """The month's subsidies of the user's scope, each with what blocks it now and whether it is payable
    (approved at every level and excluded by nothing)."""
    check_month(month)
    rows = session.exec(
        select(Subsidy, Case)
        .join(Case, col(Case.id) == col(Subsidy.case_id))
        .where(Subsidy.month == month, case_filter(user))
        .order_by(col(Subsidy.mediator), col(Case.id))
    ).all()
    out = []
    for subsidy, case in rows:
        blocked = exclusions(session, case.id or 0)
        waiting = next_level(subsidy.status)
        out.append(
            {
                "subsidy": subsidy,
                "case": case,
                "exclusions": blocked,
                "waiting_for": waiting[1] if waiting else None,
                "payable": subsidy.status == PAID and not blocked,
            }
        )
    return out


def by_mediator(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per mediator: cases, payable cases and the payable sum."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        s: Subsidy = row["subsidy"]
        entry = out.setdefault(
            s.mediator, {"mediator": s.mediator, "cases": 0, "payable_cases": 0, "amount": Decimal(0)}
        )
        entry["cases"] += 1
        if row["payable"]:
            entry["payable_cases"] += 1
            entry["amount"] += s.amount
    return list(out.values())
