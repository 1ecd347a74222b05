"""Changing a case's legal clock: consent-based extension, pause while waiting (e.g. an appraisal)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from flows.process import refresh_deadline
from models.audit import record
from models.case import Case, ClockEvent
from models.db import id_of
from models.deadlines import CHINA
from models.enums import Stage
from models.lifecycle import OPEN_STAGES, TransitionNotAllowed
from models.user import User


def _open(case: Case) -> None:
    if Stage(case.stage) not in OPEN_STAGES or case.stage in (Stage.registered, Stage.follow_up):
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能调整调解期限")


def extend_clock(
    *, session: Session, case: Case, days: int, consent_note: str, actor: User, now: datetime
) -> Case:
    """Extended only with the parties' consent, which is recorded.

    人民调解工作若干规定 第33条 / 特邀调解规定 第27条."""
    _open(case)
    session.add(
        ClockEvent(
            case_id=id_of(case), kind="extend", days=days, note=consent_note, at=now, actor_id=actor.id
        )
    )
    before = case.clock_due_on.isoformat() if case.clock_due_on else None
    case.clock_extension_days += days
    refresh_deadline(session, case, now=now)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="clock.extend",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        before={"clock_due_on": before},
        after={
            "clock_due_on": case.clock_due_on.isoformat() if case.clock_due_on else None,
            "days": days,
            "consent": consent_note,
        },
    )
    return case


def pause_clock(*, session: Session, case: Case, note: str, actor: User, now: datetime) -> Case:
    _open(case)
    if case.clock_paused_since is not None:
        raise TransitionNotAllowed("期限已处于暂停状态")
    session.add(ClockEvent(case_id=id_of(case), kind="pause", note=note, at=now, actor_id=actor.id))
    case.clock_paused_since = now
    refresh_deadline(session, case, now=now)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="clock.pause",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        after={"note": note},
    )
    return case


def resume_clock(*, session: Session, case: Case, note: str, actor: User, now: datetime) -> Case:
    if case.clock_paused_since is None:
        raise TransitionNotAllowed("期限未暂停")
    # Whole calendar days spent waiting are added to the period (the pause day itself is not counted).
    days = max((now.astimezone(CHINA).date() - case.clock_paused_since.astimezone(CHINA).date()).days, 0)
    session.add(
        ClockEvent(case_id=id_of(case), kind="resume", days=days, note=note, at=now, actor_id=actor.id)
    )
    case.clock_paused_since = None
    case.clock_paused_days += days
    refresh_deadline(session, case, now=now)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="clock.resume",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        after={"paused_days": days, "note": note},
    )
    return case
