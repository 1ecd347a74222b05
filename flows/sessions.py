"""Mediation sessions: scheduling without double-booking, the record (调解笔录) and its outcome.

Outcomes move the case: continue → 调解中; agreed → 达成协议; failed / withdrawn → the session flow
issues the 终止调解告知书 (人民调解法 第26条, telling the parties their other routes) and closes the case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import task
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from flows import tasks
from flows.process import apply_transition, enqueue_after, refresh_deadline
from flows.tasks import RETRIES, process_flow
from models.audit import record
from models.case import Case, ClockEvent
from models.db import id_of, utcnow
from models.deadlines import CHINA, is_overdue
from models.enums import SessionOutcome, Stage
from models.expert import Expert, PanelMember
from models.lifecycle import PANEL_STAGES, InvalidInput, NotFound, TransitionNotAllowed
from models.mediation_session import MediationSession
from models.user import User

CONSENT_EXTENSION_DAYS = 15


def booking_conflicts(
    session: Session,
    *,
    case_id: int,
    start: datetime,
    end: datetime,
    location: str,
    exclude_session_id: int | None = None,
) -> list[str]:
    """Why this slot can't be booked: an expert of the panel or the room is taken then."""
    overlapping = (col(MediationSession.scheduled_at) < end) & (col(MediationSession.ends_at) > start)
    if exclude_session_id is not None:
        overlapping = overlapping & (col(MediationSession.id) != exclude_session_id)
    problems: list[str] = []
    room = session.exec(
        select(MediationSession).where(overlapping, MediationSession.location == location)
    ).first()
    if room is not None:
        problems.append(f"{location}在该时段已有调解安排")
    panel = select(PanelMember.expert_id).where(PanelMember.case_id == case_id, PanelMember.active)
    other = session.execute(
        sa_select(col(Expert.name), col(MediationSession.scheduled_at))
        .join(PanelMember, col(PanelMember.expert_id) == Expert.id)
        .join(MediationSession, col(MediationSession.case_id) == PanelMember.case_id)
        .where(col(PanelMember.active), col(Expert.id).in_(panel), overlapping)
    ).all()
    for name, _at in other:
        problems.append(f"{name}在该时段已有其他调解安排")
    return sorted(set(problems))


def schedule_session(
    *,
    session: Session,
    case: Case,
    scheduled_at: datetime,
    location: str,
    duration_minutes: int,
    actor: User,
    now: datetime,
) -> MediationSession:
    if case.stage not in PANEL_STAGES:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能安排调解")
    end = scheduled_at + timedelta(minutes=duration_minutes)
    problems = booking_conflicts(session, case_id=id_of(case), start=scheduled_at, end=end, location=location)
    if problems:
        raise InvalidInput("；".join(problems), field="scheduled_at")
    seq = (
        session.exec(select(func.max(MediationSession.seq)).where(MediationSession.case_id == case.id)).one()
        or 0
    ) + 1
    ms = MediationSession(
        case_id=id_of(case),
        seq=seq,
        scheduled_at=scheduled_at,
        ends_at=end,
        location=location,
        created_at=now,
    )
    session.add(ms)
    case.updated_at = now
    session.add(case)
    session.flush()
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.schedule",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        after={"seq": seq, "scheduled_at": scheduled_at.isoformat(), "location": location},
    )
    enqueue_after(
        session,
        "schedule_session",
        key=f"session_notice:{ms.id}",
        case_id=case.id,
        params={"session_id": ms.id},
    )
    return ms


def record_session(
    *,
    session: Session,
    case: Case,
    session_id: int,
    held_at: datetime,
    attendees: list[str],
    notes: str,
    outcome: str,
    consent_to_continue: bool,
    actor: User,
    now: datetime,
) -> MediationSession:
    ms = session.get(MediationSession, session_id)
    if ms is None or ms.case_id != case.id:
        raise NotFound("调解会不存在")
    if ms.recorded_at is not None:
        raise TransitionNotAllowed(f"第{ms.seq}次调解的笔录已记录，不能重复记录")
    if case.stage not in PANEL_STAGES:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能记录调解")
    outcome = SessionOutcome(outcome)
    if outcome == SessionOutcome.continue_ and is_overdue(case, now) and case.stage == Stage.in_mediation:
        # 人民调解工作若干规定 第33条: past the month, mediation goes on only if both parties agree.
        if not consent_to_continue:
            raise InvalidInput(
                "调解期限已届满，继续调解须记录双方当事人同意（consent_to_continue）",
                field="consent_to_continue",
            )
        session.add(
            ClockEvent(
                case_id=case.id,
                kind="extend",
                days=CONSENT_EXTENSION_DAYS,
                at=now,
                note=f"第{ms.seq}次调解：双方当事人同意继续调解",
                actor_id=actor.id,
            )
        )
        case.clock_extension_days += CONSENT_EXTENSION_DAYS
        refresh_deadline(session, case, now=now)
    ms.held_at = held_at
    ms.attendees = attendees
    ms.notes = notes
    ms.outcome = outcome.value
    ms.recorded_at = now
    ms.recorded_by = actor.id
    session.add(ms)
    if case.stage == Stage.panel_formed:
        apply_transition(session, case, "start_mediation", actor=actor, now=now)
    if outcome == SessionOutcome.agreed:
        apply_transition(session, case, "agree", actor=actor, now=now)
    elif outcome == SessionOutcome.failed:
        apply_transition(session, case, "fail", actor=actor, now=now)
    elif outcome == SessionOutcome.withdrawn:
        apply_transition(session, case, "withdraw", actor=actor, now=now)
    else:
        case.updated_at = now
        session.add(case)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.record",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        after={"seq": ms.seq, "outcome": ms.outcome, "attendees": len(attendees)},
    )
    enqueue_after(
        session,
        "record_session",
        key=f"session:{ms.id}",
        case_id=case.id,
        params={"session_id": ms.id, "outcome": ms.outcome},
    )
    return ms


@task(**RETRIES)
def close_after_termination(case_id: int) -> bool:
    """failed / withdrawn → closed once the 终止调解告知书 is issued (the case file is complete)."""
    with tasks.write_session() as session:
        case = session.get(Case, case_id)
        assert case is not None, case_id  # the outbox run belongs to an existing case
        if case.stage not in (Stage.failed, Stage.withdrawn):
            return False
        apply_transition(
            session, case, "close", actor=None, now=utcnow(), note="终止调解告知书已送达，结案归档"
        )
        return True


@task(**RETRIES)
def notify_session(key: str, case_id: int, session_id: int) -> int:
    with tasks.write_session() as session:
        ms = session.get(MediationSession, session_id)
        case = session.get(Case, case_id)
        assert ms is not None and case is not None, (case_id, session_id)  # recorded before enqueueing
        experts = session.exec(
            select(PanelMember.expert_id).where(PanelMember.case_id == case_id, PanelMember.active)
        ).all()
        when = ms.scheduled_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        return sum(
            tasks.notify(
                session,
                key=f"{key}:expert:{e}",
                expert_id=e,
                case_id=case_id,
                text=f"{case.case_no} 第{ms.seq}次调解：{when}，{ms.location}",
            )
            for e in experts
        )


@process_flow("tiaojie-session-notice")
async def session_notice_flow(key: str) -> None:
    params = tasks.params_of(key)
    notify_session(key, tasks.case_id_of(key), params["session_id"])


@process_flow("tiaojie-session")
async def session_flow(key: str) -> None:
    params = tasks.params_of(key)
    case_id = tasks.case_id_of(key)
    tasks.issue_document(case_id, "session_record", f"session:{params['session_id']}")
    if params["outcome"] in (SessionOutcome.failed, SessionOutcome.withdrawn):
        tasks.issue_document(case_id, "termination_notice", f"termination:{case_id}")
        close_after_termination(case_id)
