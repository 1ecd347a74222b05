"""The mediation process, declared in one place.

Read top to bottom:
1. The stages and TRANSITIONS: `models.lifecycle` (the rules the data must always obey).
2. Which legal clocks a case runs and each stage's time limit: `models.deadlines` (with the legal
   calendar in `models.clocks`).
3. Which flow runs after which human action (`FLOW_AFTER`, `models.outbox`); every action enqueues its flow
   through `enqueue_after`, so this table is the wiring. The flows live in `flows/registry.py`.
4. `apply_transition`: the one place a case changes stage (audit, deadline, escalation clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from flows.supervision import stage_left
from models.audit import record
from models.case import Case
from models.center_settings import current_values, escalation_period
from models.clocks import ScheduleParseError, WorkCalendar, YearSchedule, parse_year_schedule
from models.db import utcnow
from models.deadlines import (
    china_date,
    forget_calendar,
    is_open,
    legal_due,
    open_sql,
    stage_due,
    work_calendar,
)
from models.enums import Stage
from models.escalation import TOP_LEVEL, Escalation, next_escalation_at
from models.lifecycle import check_transition
from models.process_run import HolidaySchedule
from models.user import User
from models.validation import ValidationError, clean_lines

# --- Admin actions on the calendar -------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleLoaded:
    """A loaded year schedule and how many open cases' stored deadlines it moved."""

    schedule: YearSchedule
    moved: int

    @property
    def holidays(self) -> frozenset[date]:
        return self.schedule.holidays

    @property
    def workdays(self) -> frozenset[date]:
        return self.schedule.workdays

    @property
    def message(self) -> str:
        return f"{self.moved} 件案件的期限已重新计算"


def load_holiday_schedule(
    session: Session, *, year: int, text: str, actor: User, now: datetime | None = None
) -> ScheduleLoaded:
    """An admin loads the State Council's schedule for a year (raises ScheduleParseError naming the line).

    Deadlines stored before were counted on the estimate (or an older schedule) for that year: the open
    cases whose clocks run into it are recomputed now, not only when their next event happens.
    """
    now = now or utcnow()
    try:  # the page's upload is not a request body: the text rule of one is applied here
        clean_lines(text)
    except ValidationError as exc:
        raise ScheduleParseError(exc.message) from None
    schedule = parse_year_schedule(text, year)
    row = session.get(HolidaySchedule, year) or HolidaySchedule(year=year, text=text)
    row.text = text
    row.loaded_at = now
    row.loaded_by = actor.id
    session.add(row)
    session.flush()
    # Built here from this transaction's rows rather than through work_calendar's shared cache, which must
    # not hold a schedule that a rollback would undo.
    calendar = WorkCalendar(
        extra_schedules={
            r.year: parse_year_schedule(r.text, r.year) for r in session.exec(select(HolidaySchedule)).all()
        }
    )
    moved_ids = _recompute_deadlines(session, year=year, calendar=calendar, now=now)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="holidays.load",
        entity="holidays",
        entity_id=year,
        after={
            "holidays": len(schedule.holidays),
            "workdays": len(schedule.workdays),
            "moved": len(moved_ids),
            "moved_case_ids": moved_ids,
        },
        at=now,
    )
    forget_calendar()
    return ScheduleLoaded(schedule=schedule, moved=len(moved_ids))


def _recompute_deadlines(session: Session, *, year: int, calendar: WorkCalendar, now: datetime) -> list[int]:
    """Recompute `clock_due_on` and `stage_due_at` of open cases whose clocks run into `year`; the ids of
    the cases whose dates moved."""
    first = date(year, 1, 1)
    # A stage deadline is 24:00 China time of its last day; one day of slack keeps the UTC bound safe.
    first_instant = datetime.combine(first - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    cases = session.exec(
        select(Case)
        .where(open_sql())
        .where(
            or_(
                col(Case.clock_due_on) >= first,
                col(Case.stage_due_at) >= first_instant,
            )
        )
        .where(or_(col(Case.clock_started_on).is_(None), col(Case.clock_started_on) <= date(year, 12, 31)))
        .order_by(col(Case.id))
    ).all()
    moved: list[int] = []
    for case in cases:
        before = (case.clock_due_on, case.stage_due_at, case.next_escalation_at, case.updated_at)
        refresh_deadline(session, case, now=now, calendar=calendar)
        if (case.clock_due_on, case.stage_due_at) != before[:2]:
            assert case.id is not None
            moved.append(case.id)
        else:
            # Nothing moved: leave the row as it was (no spurious change of updated_at).
            case.next_escalation_at, case.updated_at = before[2], before[3]
    return moved


# --- The one place a case changes stage --------------------------------------------------

_AUDITED = ("stage", "stage_seq", "stage_due_at", "escalation_level", "outcome", "closed_at")


def snapshot(case: Case, fields: tuple[str, ...] = _AUDITED) -> dict:
    out = {}
    for name in fields:
        value = getattr(case, name)
        out[name] = value.isoformat() if isinstance(value, (datetime, date)) else value
    return out


def apply_transition(
    session: Session,
    case: Case,
    name: str,
    *,
    actor: User | None,
    now: datetime,
    calendar: WorkCalendar | None = None,
    term_due_dates: Sequence[date | None] | None = None,
    note: str | None = None,
) -> Case:
    transition = check_transition(case.stage, name, actor.role if actor else None)
    calendar = calendar or work_calendar(session)
    before = snapshot(case)
    target = transition.target
    case.stage = target.value
    case.stage_seq += 1
    case.stage_entered_at = now
    case.updated_at = now
    if target == Stage.accepted:
        case.accepted_at = now
        if case.clock_started_on is None:
            case.clock_started_on = china_date(now)
        legal = legal_due(case, calendar)
        case.clock_due_on = legal.due if legal else None
    if target in (Stage.closed, Stage.rejected):
        case.closed_at = now
        case.days_to_close = (china_date(now) - china_date(case.created_at)).days
    if target in (Stage.rejected,):
        case.outcome = "rejected"
    elif target in (Stage.agreed, Stage.failed, Stage.withdrawn):
        case.outcome = target.value
    case.stage_due_at = stage_due(case, target, now, calendar, term_due_dates, current_values(session))
    # Only the open backlog climbs the ladder (the same predicate as the dashboard's 督办中): a failed or
    # withdrawn case is closed by its own flow, not by a leader.
    case.next_escalation_at = (
        next_escalation_at(case.stage_due_at, level=case.escalation_level) if is_open(case) else None
    )
    # The 督办 of the stage the case just left is fulfilled by the stage; it is resolved once the
    # 承办反馈 is in too, or when the case ends (flows/supervision.py).
    stage_left(session, case, now=now, actor=actor)
    session.add(case)
    record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action=f"case.{name}",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        before=before,
        after={**snapshot(case), **({"note": note} if note else {})},
        at=now,
    )
    return case


def refresh_deadline(
    session: Session, case: Case, *, now: datetime, calendar: WorkCalendar | None = None
) -> None:
    """Recompute the legal due date and the stage deadline after an extension, pause or resume."""
    calendar = calendar or work_calendar(session)
    legal = legal_due(case, calendar)
    case.clock_due_on = legal.due if legal else None
    if Stage(case.stage) in (Stage.panel_formed, Stage.in_mediation, Stage.accepted):
        case.stage_due_at = stage_due(
            case, Stage(case.stage), case.stage_entered_at, calendar, working_days=current_values(session)
        )
        if case.clock_paused_since is not None:
            case.next_escalation_at = None
        elif case.escalation_level < TOP_LEVEL and case.stage_due_at is not None:
            # Periods already escalated in this stage visit keep counting from the new deadline.
            done = session.exec(
                select(Escalation).where(
                    Escalation.case_id == case.id,
                    Escalation.stage_seq == case.stage_seq,
                    Escalation.period_index >= 0,
                )
            ).all()
            case.next_escalation_at = next_escalation_at(
                case.stage_due_at,
                level=case.escalation_level,
                period=escalation_period(session),
                periods_done=len(done),
            )
    case.updated_at = now
    session.add(case)
