"""The mediation process, declared in one place: stages, transitions, clocks, deadlines, flows.

Read top to bottom:
1. The stages and TRANSITIONS come from `models.lifecycle` (the rules the data must always obey).
2. Which legal clock a case runs (`clocks_for`), from its category and referral.
3. Each stage's time limit (`STAGE_LIMITS`) and how the due moment is computed (`stage_due`).
4. Which flow runs after which human action (`FLOW_AFTER`); the flows live in the modules named there.
5. `apply_transition`: the one place a case changes stage (audit, deadline, escalation clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from flows.clocks import DueDate, WorkCalendar, YearSchedule, due_date, parse_year_schedule
from models.audit import record
from models.case import Case
from models.enums import Category, ClockCode, ReferralKind, Stage
from models.escalation import Escalation
from models.lifecycle import OPEN_STAGES, check_transition
from models.process_run import HolidaySchedule
from models.settings import get_settings
from models.user import User

CHINA = ZoneInfo("Asia/Shanghai")


# --- 2. Legal clocks --------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseClock:
    code: str
    starts: str  # "intake" or "acceptance": the day the period starts counting from
    main: bool  # the main clock drives the mediation stages' deadline


def clocks_for(
    *, category: str, referral_kind: str | None, summary_procedure: bool = False
) -> list[CaseClock]:
    """Which legal clocks a case runs (a case may run several)."""
    if referral_kind == ReferralKind.court_pre_filing:
        # 特邀调解规定 第27条: 委派调解 30日, counted from receiving the court's materials.
        return [CaseClock(ClockCode.court_pre_filing, "intake", True)]
    if referral_kind == ReferralKind.court_post_filing:
        code = ClockCode.court_post_filing_summary if summary_procedure else ClockCode.court_post_filing
        return [CaseClock(code, "intake", True)]
    if referral_kind == ReferralKind.petition:
        # 信访工作条例: tell the petitioner within 15 days whether it is taken up; handle within 60.
        return [
            CaseClock(ClockCode.petition_reply, "intake", False),
            CaseClock(ClockCode.petition_handle, "acceptance", True),
        ]
    if category == Category.labor:
        # 劳动争议调解仲裁法 第14条: 15 days from receiving the application.
        return [CaseClock(ClockCode.labor, "intake", True)]
    # 人民调解工作若干规定 第33条: about one month from acceptance.
    return [CaseClock(ClockCode.people_mediation, "acceptance", True)]


_calendar_cache: dict[str, tuple[tuple, WorkCalendar, float]] = {}  # per database
CALENDAR_RECHECK_SECONDS = 5.0


def work_calendar(session: Session) -> WorkCalendar:
    """China's calendar plus any year schedule an admin loaded (chinese-calendar lags the State Council).

    Kept per process and rebuilt only when the loaded schedules change: building a year's rest days
    costs hundreds of look-ups, which intake must not pay per request."""
    database = str(session.get_bind().url)
    cached = _calendar_cache.get(database)
    if cached is not None and monotonic() - cached[2] < CALENDAR_RECHECK_SECONDS:
        return cached[1]
    stamp = tuple(
        session.exec(
            select(HolidaySchedule.year, HolidaySchedule.loaded_at).order_by(HolidaySchedule.year)
        ).all()
    )
    if cached is not None and cached[0] == stamp:
        _calendar_cache[database] = (stamp, cached[1], monotonic())
        return cached[1]
    schedules: dict[int, YearSchedule] = {}
    for row in session.exec(select(HolidaySchedule)).all():
        schedules[row.year] = parse_year_schedule(row.text, row.year)
    calendar = WorkCalendar(extra_schedules=schedules)
    _calendar_cache[database] = (stamp, calendar, monotonic())
    return calendar


def forget_calendar() -> None:
    """An admin loaded a schedule in this process: the next deadline uses it."""
    _calendar_cache.clear()


def load_holiday_schedule(session: Session, *, year: int, text: str, actor: User) -> YearSchedule:
    """An admin loads the State Council's schedule for a year (raises ScheduleParseError naming the line)."""
    schedule = parse_year_schedule(text, year)
    row = session.get(HolidaySchedule, year) or HolidaySchedule(year=year, text=text)
    row.text = text
    row.loaded_at = datetime.now(UTC)
    row.loaded_by = actor.id
    session.add(row)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="holidays.load",
        entity="holidays",
        entity_id=year,
        after={"holidays": len(schedule.holidays), "workdays": len(schedule.workdays)},
    )
    forget_calendar()
    return schedule


def china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def end_of_day_utc(day: date) -> datetime:
    """A period ends at 24:00 of its last day, China time."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=CHINA).astimezone(UTC)


def legal_due(case: Case, calendar: WorkCalendar) -> DueDate | None:
    if case.clock_started_on is None:
        return None
    extra = case.clock_extension_days + case.clock_paused_days
    return due_date(case.clock, case.clock_started_on, calendar, extra_days=extra)


# --- 3. Stage time limits -------------------------------------------------------------------


@dataclass(frozen=True)
class StageLimit:
    working_days: int | None  # center rule in working days, None = the case's legal clock
    basis: str


STAGE_LIMITS: dict[Stage, StageLimit] = {
    Stage.registered: StageLimit(3, "本中心受理规范：登记后3个工作日内作出受理或不予受理决定"),
    Stage.accepted: StageLimit(3, "本中心受理规范：受理后3个工作日内组建调解专班（不超过法定调解期限）"),
    Stage.panel_formed: StageLimit(None, "法定调解期限（见案件期限）"),
    Stage.in_mediation: StageLimit(None, "法定调解期限（见案件期限）"),
    Stage.agreed: StageLimit(5, "本中心规范：达成协议后5个工作日内制作并签署协议书"),
    Stage.follow_up: StageLimit(None, "人民调解法 第31条：对调解协议的履行情况进行监督，按约定履行期限回访"),
    Stage.failed: StageLimit(3, "人民调解法 第26条：调解不成的终止调解并告知当事人其他救济途径"),
    Stage.withdrawn: StageLimit(3, "人民调解法 第23条：当事人可以要求终止调解，3个工作日内结案归档"),
}
FOLLOW_UP_GRACE_WORKING_DAYS = 5
FOLLOW_UP_WITHOUT_DUE_DAYS = 30


def stage_due(
    case: Case,
    stage: Stage,
    now: datetime,
    calendar: WorkCalendar,
    term_due_dates: list[date] | None = None,
    working_days: dict[str, int] | None = None,
) -> datetime | None:
    """When the case must leave `stage`. `working_days` carries an admin's changes to the center rules."""
    limit = STAGE_LIMITS.get(stage)
    if limit is None or case.clock_paused_since is not None:
        return None
    legal = legal_due(case, calendar)
    today = china_date(now)
    if stage == Stage.follow_up:
        dates = [d for d in (term_due_dates or []) if d is not None]
        last = max(dates) if dates else today + timedelta(days=FOLLOW_UP_WITHOUT_DUE_DAYS)
        return end_of_day_utc(calendar.add_workdays(max(last, today), FOLLOW_UP_GRACE_WORKING_DAYS))
    if limit.working_days is None:
        return end_of_day_utc(legal.due) if legal else None
    days = (working_days or {}).get(f"stage_days_{stage.value}", limit.working_days)
    due_day = calendar.add_workdays(today, days)
    if legal and stage in (Stage.accepted,):
        due_day = min(due_day, legal.due)
    return end_of_day_utc(due_day)


def escalation_period(session: Session | None = None) -> timedelta:
    if session is not None:
        from models.center_settings import current_values

        return timedelta(days=current_values(session)["escalation_period_days"])
    return timedelta(days=get_settings().escalation_period_days)


# --- 4. Which flow runs after which action --------------------------------------------------
# The flows are in flows/<module>.py; `flows.dispatch` runs them (in-process or on workers).
FLOW_AFTER: dict[str, str] = {
    "intake": "intake",  # link related cases, 受理登记表, intake 督办单, police report
    "accept": "decision",  # 受理通知书
    "reject": "decision",  # 不予受理通知书
    "form_panel": "panel",  # notify the panel
    "recusal": "panel",  # notify the replacement
    "schedule_session": "session_notice",
    "record_session": "session",  # 调解笔录; failed/withdrawn → 终止调解告知书 and close
    "issue_agreement": "agreement",  # 人民调解协议书
    "sign": "signed",  # follow-up reminders per term, judicial-confirmation window
    "follow_up": "follow_up",  # 回访记录; close when all performed, flag when not
    "sweep": "supervision",  # 督办单 for each new escalation
}


# --- 5. The one place a case changes stage --------------------------------------------------

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
    term_due_dates: list[date] | None = None,
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
    from models.center_settings import current_values

    case.stage_due_at = stage_due(case, target, now, calendar, term_due_dates, current_values(session))
    case.next_escalation_at = case.stage_due_at if case.escalation_level < 3 else None
    # The 督办 of the stage the case just left is fulfilled.
    for esc in session.exec(
        select(Escalation).where(Escalation.case_id == case.id, Escalation.resolved_at.is_(None))
    ).all():
        esc.resolved_at = now
        session.add(esc)
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
        from models.center_settings import current_values

        case.stage_due_at = stage_due(
            case, Stage(case.stage), case.stage_entered_at, calendar, working_days=current_values(session)
        )
        if case.clock_paused_since is not None:
            case.next_escalation_at = None
        elif case.escalation_level < 3 and case.stage_due_at is not None:
            # Periods already escalated in this stage visit keep counting from the new deadline.
            done = session.exec(
                select(Escalation).where(
                    Escalation.case_id == case.id,
                    Escalation.stage_seq == case.stage_seq,
                    Escalation.period_index >= 0,
                )
            ).all()
            case.next_escalation_at = case.stage_due_at + escalation_period(session) * len(done)
    case.updated_at = now
    session.add(case)


def is_overdue(case: Case, now: datetime) -> bool:
    return (
        case.stage_due_at is not None
        and Stage(case.stage) in OPEN_STAGES
        and case.clock_paused_since is None
        and now >= case.stage_due_at
    )
