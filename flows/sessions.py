"""Mediation sessions: scheduling, rescheduling and cancelling without double-booking, the record
(调解笔录) and its outcome.

Never dated before the case was registered; numbered 第N次 by date (models.mediation_session); a held
session cannot be moved or cancelled. Outcomes move the case: continue → 调解中; agreed → 达成协议;
failed / withdrawn → the session flow issues the 终止调解告知书 (人民调解法 第26条, telling the parties their
other routes) and files the 结案 decision of that kind (flows/closing.py: closed, or awaiting approval).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import task
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from flows import tasks
from flows.closing import close_case
from flows.process import apply_transition, enqueue_after, refresh_deadline
from flows.tasks import RETRIES, process_flow
from models.audit import record
from models.case import Case, ClockEvent
from models.db import id_of, utcnow
from models.deadlines import CHINA, is_overdue
from models.enums import CloseKind, SessionOutcome, Stage
from models.expert import Expert, PanelMember
from models.lifecycle import PANEL_STAGES, InvalidInput, NotFound, TransitionNotAllowed
from models.mediation_session import MediationSession, session_numbers
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
    # A cancelled session frees its room and its experts.
    overlapping = (
        (col(MediationSession.scheduled_at) < end)
        & (col(MediationSession.ends_at) > start)
        & col(MediationSession.cancelled_at).is_(None)
    )
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


def _local(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _check_slot(
    session: Session,
    case: Case,
    *,
    start: datetime,
    end: datetime,
    location: str,
    exclude_session_id: int | None = None,
) -> None:
    # The case file starts at registration: a session before it would be a record of nothing.
    if start < case.created_at:
        raise InvalidInput(f"调解时间不能早于案件登记时间（{_local(case.created_at)}）", field="scheduled_at")
    problems = booking_conflicts(
        session,
        case_id=id_of(case),
        start=start,
        end=end,
        location=location,
        exclude_session_id=exclude_session_id,
    )
    if problems:
        raise InvalidInput("；".join(problems), field="scheduled_at")


def renumber_sessions(session: Session, case_id: int) -> None:
    """第N次 by date (models.mediation_session.session_numbers), written in two steps so that the unique
    (case_id, seq) never sees two sessions with one number mid-way."""
    session.flush()
    rows = session.exec(select(MediationSession).where(MediationSession.case_id == case_id)).all()
    numbers = session_numbers(rows)
    changed = [ms for ms in rows if ms.seq != numbers[id_of(ms)]]
    for ms in changed:
        ms.seq = None
        session.add(ms)
    session.flush()
    for ms in changed:
        ms.seq = numbers[id_of(ms)]
        session.add(ms)
    session.flush()


def _open_session(session: Session, case: Case, session_id: int, doing: str) -> MediationSession:
    ms = session.get(MediationSession, session_id)
    if ms is None or ms.case_id != case.id:
        raise NotFound("调解会不存在")
    if ms.cancelled_at is not None:
        raise TransitionNotAllowed(f"该次调解已于{_local(ms.cancelled_at)}取消，不能{doing}")
    if ms.recorded_at is not None:
        raise TransitionNotAllowed(f"第{ms.seq}次调解已召开并记录笔录，不能{doing}")
    return ms


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
    _check_slot(session, case, start=scheduled_at, end=end, location=location)
    ms = MediationSession(
        case_id=id_of(case),
        scheduled_at=scheduled_at,
        ends_at=end,
        location=location,
        created_at=now,
    )
    session.add(ms)
    case.updated_at = now
    session.add(case)
    renumber_sessions(session, id_of(case))
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.schedule",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        after={"seq": ms.seq, "scheduled_at": scheduled_at.isoformat(), "location": location},
    )
    enqueue_after(
        session,
        "schedule_session",
        key=f"session_notice:{ms.id}",
        case_id=case.id,
        params={"session_id": ms.id},
    )
    return ms


def reschedule_session(
    *,
    session: Session,
    case: Case,
    session_id: int,
    scheduled_at: datetime,
    location: str | None,
    reason: str,
    actor: User,
    now: datetime,
) -> MediationSession:
    """改期: the old time and place stay in the session's history with the reason."""
    ms = _open_session(session, case, session_id, "改期")
    if case.stage not in PANEL_STAGES:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能调整调解安排")
    location = location or ms.location
    end = scheduled_at + (ms.ends_at - ms.scheduled_at)
    _check_slot(session, case, start=scheduled_at, end=end, location=location, exclude_session_id=ms.id)
    before = {"seq": ms.seq, "scheduled_at": ms.scheduled_at.isoformat(), "location": ms.location}
    # A new list, not an in-place append: the JSON column is saved only when reassigned.
    ms.reschedules = [
        *ms.reschedules,
        {
            "scheduled_at": ms.scheduled_at.isoformat(),
            "ends_at": ms.ends_at.isoformat(),
            "location": ms.location,
            "reason": reason,
            "at": now.isoformat(),
            "by": actor.display_name,
        },
    ]
    ms.scheduled_at, ms.ends_at, ms.location = scheduled_at, end, location
    session.add(ms)
    case.updated_at = now
    session.add(case)
    renumber_sessions(session, id_of(case))
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.reschedule",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        before=before,
        after={
            "seq": ms.seq,
            "scheduled_at": scheduled_at.isoformat(),
            "location": location,
            "reason": reason,
        },
    )
    # The panel hears of the new time (a new key: the first notice was for the old one).
    enqueue_after(
        session,
        "schedule_session",
        key=f"session_notice:{ms.id}:{len(ms.reschedules)}",
        case_id=case.id,
        params={"session_id": ms.id},
    )
    return ms


def cancel_session(
    *, session: Session, case: Case, session_id: int, reason: str, actor: User, now: datetime
) -> MediationSession:
    """取消: the session stays in the file (struck through, with the reason) and loses its number."""
    ms = _open_session(session, case, session_id, "取消")
    seq = ms.seq
    ms.cancelled_at = now
    ms.cancelled_by = actor.id
    ms.cancel_reason = reason
    session.add(ms)
    case.updated_at = now
    session.add(case)
    renumber_sessions(session, id_of(case))
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.cancel",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        before={"seq": seq, "scheduled_at": ms.scheduled_at.isoformat(), "location": ms.location},
        after={"reason": reason},
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
    if ms.cancelled_at is not None:
        raise TransitionNotAllowed("该次调解已取消，不能记录笔录")
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
    """failed / withdrawn: once the 终止调解告知书 is issued the case file is complete, and the 结案 of
    that kind is filed (closed at once, or awaiting the director where the center requires approval)."""
    with tasks.write_session() as session:
        case = session.get(Case, case_id)
        assert case is not None, case_id  # the outbox run belongs to an existing case
        if case.stage not in (Stage.failed, Stage.withdrawn) or case.close_kind is not None:
            return False
        close_case(
            session=session,
            case=case,
            kind=CloseKind(case.stage),
            note="终止调解告知书已送达，结案归档",
            actor=None,
            now=utcnow(),
        )
        return True


@task(**RETRIES)
def notify_session(key: str, case_id: int, session_id: int) -> int:
    with tasks.write_session() as session:
        ms = session.get(MediationSession, session_id)
        case = session.get(Case, case_id)
        assert ms is not None and case is not None, (case_id, session_id)  # recorded before enqueueing
        if ms.cancelled_at is not None:
            return 0
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
