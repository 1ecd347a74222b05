"""Deadlines of a case, decided once: which legal clocks it runs, each stage's time limit, the day a
deadline falls on, and whether a case is open and overdue (one Python predicate and one SQL expression
built from the same stage list).

Pages, JSON routes, flows, spreadsheets and printed documents all read these; none keeps its own copy.

A deadline is stored as an instant, 24:00 China time of its last allowed day (a period ends at the
end of its last day, 民诉法 第85条); people see and documents print the last allowed day
(`last_day`), never the instant converted back into a calendar day (that is the next day).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, overload

from cachetools import LRUCache, TTLCache
from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from models.case import Case
from models.clocks import DueDate, WorkCalendar, YearSchedule, due_date, parse_year_schedule
from models.enums import Category, ClockCode, ReferralKind, Stage
from models.lifecycle import OPEN_STAGES
from models.process_run import HolidaySchedule
from models.tz import CHINA

# --- Days and instants ---------------------------------------------------------------------------


@overload
def china_date(moment: datetime) -> date: ...
@overload
def china_date(moment: datetime | None) -> date | None: ...
def china_date(moment: datetime | None) -> date | None:
    """The China calendar day of an instant (None for no instant: a date not yet set prints blank)."""
    return moment.astimezone(CHINA).date() if moment else None


def end_of_day_utc(day: date) -> datetime:
    """A period ends at 24:00 of its last day, China time."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=CHINA).astimezone(UTC)


def start_of_day_utc(day: date) -> datetime:
    """00:00 of a day, China time (a pause that took effect on an earlier day)."""
    return datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)


def last_day(deadline: datetime | None) -> date | None:
    """The last allowed day of a deadline stored as an instant (the inverse of `end_of_day_utc`)."""
    if deadline is None:
        return None
    return china_date(deadline - timedelta(microseconds=1))


def days_overdue(deadline: datetime | None, now: datetime) -> int:
    """Whole days past the last allowed day, as of `now` (0 while the last day has not ended)."""
    day = last_day(deadline)
    if day is None:
        return 0
    return max(0, (china_date(now) - day).days)


# --- Legal clocks ------------------------------------------------------------------------------


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
    if category == Category.medical:
        # 医疗纠纷预防和处理条例 第38条: 30 working days from acceptance; appraisal time is not counted
        # (a clock pause) and the parties may agree to extend (a clock extension).
        return [CaseClock(ClockCode.medical, "acceptance", True)]
    if category == Category.labor:
        # 劳动争议调解仲裁法 第14条: 15 days from receiving the application.
        return [CaseClock(ClockCode.labor, "intake", True)]
    # 人民调解工作若干规定 第33条: about one month from acceptance.
    return [CaseClock(ClockCode.people_mediation, "acceptance", True)]


def legal_due(case: Case, calendar: WorkCalendar) -> DueDate | None:
    if case.clock_started_on is None:
        return None
    extra = case.clock_extension_days + case.clock_paused_days
    return due_date(
        case.clock,
        case.clock_started_on,
        calendar,
        extra_days=extra,
        paused_workdays=case.clock_paused_workdays,
    )


# --- The working calendar of this database -------------------------------------------------------

# Built from chinese-calendar plus the year schedules an admin loaded. Building a year's rest days costs
# hundreds of look-ups, which intake must not pay per request: kept per database for a few seconds, and
# rebuilt only when the loaded schedules changed.
CALENDAR_RECHECK_SECONDS = 5.0
_calendars: TTLCache[str, tuple[tuple[Any, ...], WorkCalendar]] = TTLCache(
    maxsize=64, ttl=CALENDAR_RECHECK_SECONDS
)
_built: LRUCache[str, tuple[tuple[Any, ...], WorkCalendar]] = LRUCache(maxsize=64)
_calendar_lock = threading.Lock()


def work_calendar(session: Session) -> WorkCalendar:
    """China's calendar plus any year schedule an admin loaded (chinese-calendar lags the State Council)."""
    database = str(session.get_bind().engine.url)
    with _calendar_lock:
        fresh = _calendars.get(database)
    if fresh is not None:
        return fresh[1]
    stamp = tuple(
        session.exec(
            select(HolidaySchedule.year, HolidaySchedule.loaded_at).order_by(col(HolidaySchedule.year))
        ).all()
    )
    with _calendar_lock:
        known = _built.get(database)
    if known is None or known[0] != stamp:
        schedules: dict[int, YearSchedule] = {
            row.year: parse_year_schedule(row.text, row.year)
            for row in session.exec(select(HolidaySchedule)).all()
        }
        known = (stamp, WorkCalendar(extra_schedules=schedules))
    with _calendar_lock:
        _built[database] = known
        _calendars[database] = known
    return known[1]


def forget_calendar() -> None:
    """An admin loaded a schedule in this process: the next deadline uses it."""
    with _calendar_lock:
        _calendars.clear()
        _built.clear()


# --- Stage time limits -------------------------------------------------------------------------


@dataclass(frozen=True)
class StageLimit:
    working_days: int | None  # center rule in working days, None = the case's legal clock
    basis: str


def _cites(*keys: str) -> str:
    """Citations for a basis string, from the one table (models/law.py)."""
    from models.law import citation

    return "、".join(citation(k).cite_short for k in keys)


STAGE_LIMITS: dict[Stage, StageLimit] = {
    Stage.registered: StageLimit(3, "本中心受理规范：登记后3个工作日内作出受理或不予受理决定"),
    Stage.accepted: StageLimit(3, "本中心受理规范：受理后3个工作日内组建调解专班（不超过法定调解期限）"),
    Stage.panel_formed: StageLimit(None, "法定调解期限（见案件期限）"),
    Stage.in_mediation: StageLimit(None, "法定调解期限（见案件期限）"),
    Stage.agreed: StageLimit(5, "本中心规范：达成协议后5个工作日内制作并签署协议书"),
    Stage.follow_up: StageLimit(
        None, f"{_cites('pml_31')}：对调解协议的履行情况进行监督，按约定履行期限回访"
    ),
    Stage.failed: StageLimit(3, f"{_cites('pml_26')}：调解不成的终止调解并告知当事人其他救济途径"),
    Stage.withdrawn: StageLimit(3, f"{_cites('pml_23')}：当事人可以要求终止调解，3个工作日内结案归档"),
}
# The center's own limits an admin may change (models/center_settings.py), keyed as stored there.
STAGE_DAY_DEFAULTS: dict[str, int] = {
    f"stage_days_{stage.value}": limit.working_days
    for stage, limit in STAGE_LIMITS.items()
    if limit.working_days is not None and stage in (Stage.registered, Stage.accepted, Stage.agreed)
}
FOLLOW_UP_GRACE_WORKING_DAYS = 5
FOLLOW_UP_WITHOUT_DUE_DAYS = 30


def stage_due(
    case: Case,
    stage: Stage,
    now: datetime,
    calendar: WorkCalendar,
    term_due_dates: Sequence[date | None] | None = None,  # terms without a due date are skipped
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


# --- Open and overdue: one rule, in Python and in SQL -------------------------------------------

OPEN_STAGE_VALUES: tuple[str, ...] = tuple(sorted(s.value for s in OPEN_STAGES))


class ClockedCase(Protocol):
    """What the open/overdue rule reads: a Case, or a row selecting these columns (the ledger)."""

    @property
    def stage(self) -> str: ...
    @property
    def stage_due_at(self) -> datetime | None: ...
    @property
    def clock_paused_since(self) -> datetime | None: ...


def is_open(case: ClockedCase) -> bool:
    return case.stage in OPEN_STAGE_VALUES


def is_overdue(case: ClockedCase, now: datetime) -> bool:
    """Open, its clock running, and the last allowed day of its stage has ended."""
    return (
        case.stage_due_at is not None
        and is_open(case)
        and case.clock_paused_since is None
        and now >= case.stage_due_at
    )


def open_sql() -> ColumnElement[bool]:
    return col(Case.stage).in_(OPEN_STAGE_VALUES)


def overdue_sql(now: datetime) -> ColumnElement[bool]:
    """`is_overdue` as a WHERE clause (the same stage list and the same comparison)."""
    return and_(
        open_sql(),
        col(Case.stage_due_at).is_not(None),
        col(Case.clock_paused_since).is_(None),
        col(Case.stage_due_at) <= now,
    )


def not_overdue_sql(now: datetime) -> ColumnElement[bool]:
    return or_(
        col(Case.stage).not_in(OPEN_STAGE_VALUES),
        col(Case.stage_due_at).is_(None),
        col(Case.clock_paused_since).is_not(None),
        col(Case.stage_due_at) > now,
    )


def due_soon_sql(now: datetime, days: int) -> ColumnElement[bool]:
    """Open, running, not yet overdue, due within `days`."""
    return and_(
        open_sql(),
        col(Case.clock_paused_since).is_(None),
        col(Case.stage_due_at) > now,
        col(Case.stage_due_at) <= now + timedelta(days=days),
    )
