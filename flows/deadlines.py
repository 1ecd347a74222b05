"""Changing a case's legal clock: consent-based extension, pause while waiting (e.g. an appraisal)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from flows.process import refresh_deadline
from models.action_context import ActionContext
from models.audit import record
from models.case import Case, ClockEvent
from models.clocks import get_rule
from models.db import id_of
from models.deadlines import china_date, start_of_day_utc, work_calendar
from models.enums import Stage
from models.lifecycle import OPEN_STAGES, InvalidInput, TransitionNotAllowed
from models.outbox import enqueue_after
from models.schemas import ClockPause, ExtendClock


def _open(case: Case) -> None:
    if Stage(case.stage) not in OPEN_STAGES or case.stage in (Stage.registered, Stage.follow_up):
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能调整调解期限")


def extend_clock(cmd: ExtendClock, ctx: ActionContext) -> Case:
    """Extended only with the parties' consent, which is recorded.

    人民调解工作若干规定 第33条 / 特邀调解规定 第27条."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    days, consent_note = cmd.days, cmd.consent_note
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


def _effective_day(
    case: Case, on: date | None, now: datetime, *, not_before: date, before_words: str
) -> date:
    """The day a pause or resume took effect: given (the appraisal commissioned / its opinion received)
    or today; never before `not_before`, never after today (CONTRACT v1.2)."""
    today = china_date(now)
    day = on or today
    if day > today:
        raise InvalidInput(f"日期{_cn(day)}晚于今天（{_cn(today)}），不能预先登记", field="on")
    if day < not_before:
        raise InvalidInput(f"日期{_cn(day)}早于{before_words}（{_cn(not_before)}）", field="on")
    return day


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _accepted_on(case: Case) -> date:
    return china_date(case.accepted_at or case.created_at)


def _notice(session: Session, case: Case, event: ClockEvent, action: str) -> None:
    """Each pause and resume is told to the parties in writing with the last day (clock_notice)."""
    session.flush()  # the event's id names the notice
    subject = f"clock_notice:{case.id}:{event.id}"
    enqueue_after(
        session,
        action,
        key=subject,
        case_id=case.id,
        params={"kinds": ["clock_notice"], "subjects": [subject]},
    )


def pause_clock(cmd: ClockPause, ctx: ActionContext) -> Case:
    """The clock stands still from `on` (医疗纠纷预防和处理条例 第三十八条: "需要鉴定的，鉴定时间不计入
    调解期限"): the day itself still counts, the days after it do not until the resume."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    note, on = cmd.note, cmd.on
    _open(case)
    if case.clock_paused_since is not None:
        raise TransitionNotAllowed("期限已处于暂停状态")
    day = _effective_day(case, on, now, not_before=_accepted_on(case), before_words="受理日期")
    calendar = work_calendar(session)
    # What is left of the period on that day, told to the parties: working days for a working-day clock.
    left = 0
    if case.clock_due_on is not None and case.clock_due_on > day:
        working = get_rule(case.clock).counts_working_days_only
        left = (
            calendar.workdays_between(day, case.clock_due_on) if working else (case.clock_due_on - day).days
        )
    event = ClockEvent(
        case_id=id_of(case), kind="pause", days=left, note=note, at=now, actor_id=actor.id, effective_on=day
    )
    session.add(event)
    before = case.clock_due_on.isoformat() if case.clock_due_on else None
    case.clock_paused_since = now if day == china_date(now) else start_of_day_utc(day)
    refresh_deadline(session, case, now=now, calendar=calendar)
    _notice(session, case, event, "clock_pause")
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="clock.pause",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        before={"clock_due_on": before},
        after={"note": note, "on": day.isoformat(), "days_left": left},
    )
    return case


def resume_clock(cmd: ClockPause, ctx: ActionContext) -> Case:
    """The clock runs again from the day after `on`. The days it stood still (after the pause day, up to
    and including `on`) are not counted: working days for a working-day clock (the medical one), so its
    last day moves by exactly those working days; calendar days for a calendar-day clock."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    note, on = cmd.note, cmd.on
    if case.clock_paused_since is None:
        raise TransitionNotAllowed("期限未暂停")
    paused_on = china_date(case.clock_paused_since)
    day = _effective_day(case, on, now, not_before=paused_on, before_words="暂停日期")
    calendar = work_calendar(session)
    working = get_rule(case.clock).counts_working_days_only
    days = calendar.workdays_between(paused_on, day) if working else (day - paused_on).days
    case.clock_paused_since = None
    if working:
        case.clock_paused_workdays += days
    else:
        case.clock_paused_days += days
    refresh_deadline(session, case, now=now, calendar=calendar)
    event = ClockEvent(
        case_id=id_of(case),
        kind="resume",
        days=days,
        note=note,
        at=now,
        actor_id=actor.id,
        effective_on=day,
        due_on=case.clock_due_on,
    )
    session.add(event)
    _notice(session, case, event, "clock_resume")
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="clock.resume",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        after={
            "paused_days": days,
            "unit": "working_day" if working else "day",
            "on": day.isoformat(),
            "clock_due_on": case.clock_due_on.isoformat() if case.clock_due_on else None,
            "note": note,
        },
    )
    return case
