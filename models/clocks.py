"""Legal periods (期限) of a case and China's working-day calendar.

Pure functions: no database, web or Prefect imports. The API's 期限计算器 (`GET /clocks/due`), the
case stage deadlines and the overdue sweep all call `due_date`.

Day counting follows 《民事诉讼法》(2023) 第85条 and 《民法典》第200–203条:
- the starting day is not counted, so N days from `start` ends on `start + N days` (民法典 第201条);
- a period in months ends on the same-numbered day of the last month, or on that month's last day
  if it has none (民法典 第202条);
- if the last day is a rest day (weekend or statutory holiday) the period ends on the next working
  day (民诉法 第85条, 民法典 第203条); a weekend made a working day by 调休 is a working day.
"""

from __future__ import annotations

import calendar as _pycal
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

import chinese_calendar
from lunardate import LunarDate

__all__ = [
    "CLOCK_RULES",
    "COUNTING_BASIS_ZH",
    "ESTIMATE_BASIS_ZH",
    "WORKING_DAY_BASIS_ZH",
    "ClockRule",
    "DueDate",
    "ScheduleParseError",
    "UnknownClockError",
    "WorkCalendar",
    "YearSchedule",
    "add_months",
    "default_calendar",
    "due_date",
    "fallback_holidays",
    "get_rule",
    "makeup_days",
    "parse_year_schedule",
    "period_end",
    "qingming_day",
]

Unit = Literal["day", "month"]


# --- Clock table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockRule:
    code: str
    label_zh: str
    amount: int
    unit: Unit
    basis_zh: str
    # True: `amount` counts working days (医疗纠纷条例 第38条 "30个工作日"), not calendar days.
    counts_working_days_only: bool = False
    # What the law says follows when the period runs out without an agreement ("" when it says nothing).
    consequence_zh: str = ""


def _quote(key: str, *, paragraph: int | None = None) -> str:
    """《条例》第N条“words”: the article and its words from the one table (models/law.py)."""
    from models.law import citation

    article = citation(key)
    words = article.paragraph(paragraph) if paragraph else article.text
    return f"{article.cite_short}“{words}”"


def _cite(*keys: str) -> str:
    from models.law import citation

    return "、".join(citation(k).cite_short for k in keys)


COUNTING_BASIS_ZH = (
    f"期间依{_cite('cpl_85', 'civil_201', 'civil_202', 'civil_203')}计算：开始的当日不计入；"
    "按月计算的，到期月的对应日为最后一日，没有对应日的为月末日；最后一日是法定休假日的，顺延至休假日后的第一个工作日"
)

WORKING_DAY_BASIS_ZH = (
    "期间按工作日计算：受理当日不计入，自次日起的第{n}个工作日为最后一日（周末及法定节假日不计，调休上班日计入）；"
    "鉴定时间及约定延长的日数另计"
)


def _label(key: str) -> str:
    from models.law import citation

    return citation(key).article_label


# What the estimate of an unpublished year counts (models/law.py holds both articles' words).
ESTIMATE_BASIS_ZH = (
    f"按周末、{_cite('holidays_2')}规定的元旦、春节、清明、劳动节、端午、中秋、国庆节法定假日"
    f"及其{_label('holidays_6')}的补假（假日适逢周六、周日的，在其后的工作日补假）估算，未计调休"
)

_FROM_COURT = "；自签收法院移交材料之日起计算"

CLOCK_RULES: dict[str, ClockRule] = {
    r.code: r
    for r in (
        ClockRule(
            "people_mediation",
            "人民调解期限",
            1,
            "month",
            # 2002 规定 第33条 as it stands; continuing past the month is the parties' choice, not its words.
            f"{_quote('rules2002_33')}；未能调结、双方当事人同意的，可以继续调解",
        ),
        ClockRule("labor", "劳动争议调解", 15, "day", _quote("labor_14_3")),
        ClockRule("court_pre_filing", "诉前委派调解", 30, "day", _quote("invited_27_1") + _FROM_COURT),
        ClockRule("court_post_filing", "诉中委托调解", 15, "day", _quote("invited_27_2") + _FROM_COURT),
        ClockRule(
            "court_post_filing_summary", "简易程序委托调解", 7, "day", _quote("invited_27_2") + _FROM_COURT
        ),
        ClockRule("petition_reply", "信访告知", 15, "day", _quote("petition_23_2")),
        ClockRule("petition_handle", "信访办结", 60, "day", _quote("petition_34")),
        ClockRule(
            "medical",
            "医疗纠纷调解",
            30,
            "day",
            _quote("medical_38"),
            counts_working_days_only=True,
            consequence_zh=f"超过调解期限未达成调解协议的，视为调解不成（{_cite('medical_38')}）",
        ),
        ClockRule(
            "judicial_confirmation",
            "申请司法确认",
            30,
            "day",
            f"{_quote('pml_33', paragraph=1)}；申请向{_cite('cpl_205')}规定的人民法院提出",
        ),
    )
}


class UnknownClockError(ValueError):
    """An unknown clock code; `.message` is user-facing."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.message = f"未知的期限类型：{code}"
        super().__init__(self.message)


def get_rule(clock_code: str) -> ClockRule:
    try:
        return CLOCK_RULES[clock_code]
    except KeyError:
        raise UnknownClockError(clock_code) from None


# --- Working-day calendar -----------------------------------------------------------------------


@dataclass(frozen=True)
class YearSchedule:
    """One year's published arrangement: statutory holidays and the 调休 working weekend days."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept plain sets from callers but keep the instance hashable and immutable.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        clash = self.holidays & self.workdays
        if clash:
            first = min(clash)
            raise ValueError(f"{first.isoformat()} 不能同时是节假日和调休工作日")

    @property
    def years(self) -> set[int]:
        return {d.year for d in self.holidays | self.workdays}


class ScheduleParseError(ValueError):
    """A bad line in an uploaded year schedule; `.message` names the line (简体中文)."""

    def __init__(self, message: str, line_no: int | None = None) -> None:
        self.message = message
        self.line_no = line_no
        super().__init__(message)


_HOLIDAY_WORDS = {"holiday", "休", "假", "休息", "放假"}
_WORKDAY_WORDS = {"workday", "班", "上班", "工作日"}


def parse_year_schedule(text: str, year: int | None = None) -> YearSchedule:
    """Parse an admin-uploaded schedule of one year.

    One date per line, `YYYY-MM-DD holiday|workday` (also 休/班), optionally followed by a name;
    `#` starts a comment; blank lines are ignored. Only rest days that are not plain weekends and
    weekend days made working days by 调休 need listing.
    """
    holidays: set[date] = set()
    workdays: set[date] = set()
    seen: dict[date, tuple[int, str]] = {}
    found_year: int | None = year
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().lstrip("\ufeff")
        if not line:
            continue
        parts = re.split(r"[\s,，\t]+", line)
        if len(parts) < 2:
            raise ScheduleParseError(
                f"第{line_no}行：应为“日期 类型”，如“2027-01-01 holiday”，实际为“{line}”", line_no
            )
        day_text, kind_text = parts[0], parts[1].lower()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day_text):
            raise ScheduleParseError(f"第{line_no}行：日期格式应为YYYY-MM-DD，实际为“{day_text}”", line_no)
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise ScheduleParseError(f"第{line_no}行：“{day_text}”不是有效日期", line_no) from None
        if kind_text in _HOLIDAY_WORDS:
            kind = "holiday"
        elif kind_text in _WORKDAY_WORDS:
            kind = "workday"
        else:
            raise ScheduleParseError(
                f"第{line_no}行：类型应为holiday（休）或workday（班），实际为“{parts[1]}”", line_no
            )
        if found_year is None:
            found_year = day.year
        elif day.year != found_year:
            raise ScheduleParseError(
                f"第{line_no}行：{day_text}不属于{found_year}年，每份安排只能包含一个年度", line_no
            )
        if day in seen and seen[day][1] != kind:
            raise ScheduleParseError(
                f"第{line_no}行：{day_text}与第{seen[day][0]}行矛盾（不能既是节假日又是调休工作日）", line_no
            )
        if kind == "workday" and day.weekday() < 5:
            raise ScheduleParseError(
                f"第{line_no}行：{day_text}是周一至周五，本来就是工作日，只有周末调休上班才需要标记为workday",
                line_no,
            )
        seen.setdefault(day, (line_no, kind))
        (holidays if kind == "holiday" else workdays).add(day)
    if not seen:
        raise ScheduleParseError("未找到任何日期：每行应为“日期 类型”，如“2027-01-01 holiday”")
    return YearSchedule(holidays=frozenset(holidays), workdays=frozenset(workdays))


def _library_years() -> range:
    # chinese_calendar raises NotImplementedError outside the years it ships; know them up front.
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return range(min(years), max(years) + 1)


_LIBRARY_YEARS = _library_years()


def qingming_day(year: int) -> date:
    """清明 (the solar term) of a year of 1901–2099 by the usual approximation: April
    int(Y*0.2422 + C) - int(Y/4), Y = year % 100, C = 4.81 for the 21st century (5.59 for the 20th).
    lunardate knows no solar terms; tests check this against chinese-calendar's table."""
    if not 1901 <= year <= 2099:
        raise ValueError(f"{year}年超出清明推算范围（1901–2099）")
    y = year % 100
    c = 4.81 if year >= 2000 else 5.59  # 2000 (Y=0) gives 4 April, as observed
    return date(year, 4, int(y * 0.2422 + c) - int(y / 4))


def _lunar(year: int, month: int, day: int) -> date:
    return LunarDate(year, month, day).to_solar_date()


def _holiday_days(year: int) -> list[date]:
    """Every day of leave 《全国年节及纪念日放假办法》第二条 grants, once per holiday: a day two holidays
    share (中秋 on a day of 国庆) is listed twice."""
    days = [date(year, 1, 1), date(year, 5, 1), date(year, 5, 2)]
    days += [date(year, 10, d) for d in (1, 2, 3)]
    # lunardate covers 1900–2099 and clocks never run outside it; guard anyway rather than fail a deadline.
    if 1901 <= year <= 2099:
        new_year = _lunar(year, 1, 1)
        days += [new_year + timedelta(days=k) for k in (-1, 0, 1, 2)]  # 除夕 and 初一–初三
        days += [qingming_day(year), _lunar(year, 5, 5), _lunar(year, 8, 15)]
    return sorted(d for d in days if d.year == year)


def fallback_holidays(year: int) -> frozenset[date]:
    """The statutory holidays of 《全国年节及纪念日放假办法》(2024年修订) 第二条 for a year whose State
    Council arrangement is unknown: 元旦 1 Jan; 春节 除夕 and 正月初一至初三; 清明 (the solar term day);
    劳动节 1–2 May; 端午 (五月初五); 中秋 (八月十五); 国庆节 1–3 Oct. The 调休 swaps are published yearly
    and cannot be derived; the make-up days of 第六条 can (`makeup_days`)."""
    return frozenset(_holiday_days(year))


@lru_cache(maxsize=32)
def makeup_days(year: int) -> frozenset[date]:
    """The make-up days (补假) of 《全国年节及纪念日放假办法》第六条 for the estimate: "全体公民放假的假日，
    如果适逢周六、周日，应当在工作日补假".

    How they chain (our reading, documented for the estimate):
    - each day of leave of 第二条 that falls on a Saturday or Sunday is owed one working day;
    - a day two holidays share (中秋 on a day of 国庆, as in 2028 and 2020) is owed one more: 第二条 grants
      each holiday its own days, and the State Council's 2020 arrangement (中秋 on 1 Oct: 4 days of leave
      in 1–8 Oct) gave the shared day back the same way;
    - owed days are taken, in order, on the first working days after the holiday (a make-up day is itself a
      rest day, so the next one moves a day later; a holiday still under way is passed over).
    2027: 初一、初二 on Sat 6 – Sun 7 Feb, 初三 Mon 8 Feb a holiday → Tue 9, Wed 10 Feb. 2028: 国庆 1 Oct
    a Sunday and 中秋 on 3 Oct (Tue, also 国庆) → Wed 4, Thu 5 Oct.
    """
    owed: dict[date, int] = {}
    holidays = _holiday_days(year)
    seen: set[date] = set()
    for d in holidays:
        if d.weekday() >= 5 or d in seen:
            owed[d] = owed.get(d, 0) + 1
        seen.add(d)
    rest = set(holidays)
    made_up: set[date] = set()
    pending = 0
    d = date(year, 1, 1)
    while d.year == year or pending:
        pending += owed.get(d, 0)
        if pending and d.weekday() < 5 and d not in rest:
            made_up.add(d)
            pending -= 1
        d += timedelta(days=1)
    return frozenset(made_up)


# chinese_calendar names its holidays in English.
_HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


class WorkCalendar:
    """Working days of mainland China.

    Sources, first match wins per year: (1) admin-loaded schedules, (2) chinese_calendar for the
    years it ships, (3) an estimate: weekends plus the statutory holidays (`fallback_holidays`).
    """

    def __init__(self, extra_schedules: Mapping[int, YearSchedule] | None = None) -> None:
        self._schedules: dict[int, YearSchedule] = dict(extra_schedules or {})
        for y, sched in self._schedules.items():
            stray = sched.years - {y}
            if stray:
                raise ValueError(f"{y}年的节假日安排中含有其他年度的日期（{min(stray)}年）")
        self._rest_cache: dict[int, frozenset[date]] = {}

    # Which source answers for a year.
    def source_of(self, year: int) -> Literal["admin", "library", "estimate"]:
        if year in self._schedules:
            return "admin"
        if year in _LIBRARY_YEARS:
            return "library"
        return "estimate"

    def knows_year(self, year: int) -> bool:
        """True when the year's official arrangement is known (admin-loaded or shipped)."""
        return self.source_of(year) != "estimate"

    def estimate_note(self, year: int) -> str | None:
        """Chinese explanation shown next to a date computed on the estimated calendar."""
        if self.knows_year(year):
            return None
        head = f"{year}年节假日安排尚未公布" if year > _LIBRARY_YEARS[-1] else f"系统未收录{year}年节假日安排"
        return f"{head}，{ESTIMATE_BASIS_ZH}；实际期限以国务院公布的放假安排为准"

    def _rest_days(self, year: int) -> frozenset[date]:
        cached = self._rest_cache.get(year)
        if cached is not None:
            return cached
        days = [date(year, 1, 1) + timedelta(i) for i in range(366 if _pycal.isleap(year) else 365)]
        source = self.source_of(year)
        if source == "admin":
            s = self._schedules[year]
            rest = frozenset(d for d in days if (d.weekday() >= 5 and d not in s.workdays) or d in s.holidays)
        elif source == "library":
            rest = frozenset(d for d in days if not chinese_calendar.is_workday(d))
        else:
            fixed = fallback_holidays(year) | makeup_days(year)
            rest = frozenset(d for d in days if d.weekday() >= 5 or d in fixed)
        self._rest_cache[year] = rest
        return rest

    def is_workday(self, d: date) -> bool:
        return d not in self._rest_days(d.year)

    def holiday_name(self, d: date) -> str | None:
        """A statutory holiday (or a day of its break) by its Chinese name, "法定节假日" when the source
        does not name it; None on a working day or a plain weekend (a 调休 Saturday is a working day)."""
        if self.is_workday(d):
            return None
        source = self.source_of(d.year)
        if source == "admin":
            return "法定节假日" if d in self._schedules[d.year].holidays else None
        if source == "library":
            on_holiday, holiday = chinese_calendar.get_holiday_detail(d)
            if not on_holiday or holiday is None:
                return None
            return _HOLIDAY_NAMES_ZH.get(str(holiday), "法定节假日")
        if d in makeup_days(d.year):
            return "法定节假日补假"
        return "法定节假日" if d in fallback_holidays(d.year) else None

    def next_workday_on_or_after(self, d: date) -> date:
        # The longest run of rest days in China is 8–9 days; a year bounds any sane schedule.
        for _ in range(370):
            if self.is_workday(d):
                return d
            d += timedelta(days=1)
        raise ValueError("一年内没有工作日，节假日安排有误")

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after d (d itself not counted); negative n counts backwards."""
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_workday(d):
                remaining -= 1
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b (negative if b < a); inverse of add_workdays."""
        if b < a:
            return -self.workdays_between(b, a)
        count = 0
        d = a + timedelta(days=1)
        while d <= b:
            if self.is_workday(d):
                count += 1
            d += timedelta(days=1)
        return count


_DEFAULT_CALENDAR: WorkCalendar | None = None


def default_calendar() -> WorkCalendar:
    """A shared calendar without admin schedules (its per-year cache is reused across calls)."""
    global _DEFAULT_CALENDAR
    if _DEFAULT_CALENDAR is None:
        _DEFAULT_CALENDAR = WorkCalendar()
    return _DEFAULT_CALENDAR


# --- Periods ------------------------------------------------------------------------------------


def add_months(start: date, months: int) -> date:
    """Same-numbered day `months` later, or that month's last day (民法典 第202条)."""
    y, m0 = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m0 + 1
    return date(year, month, min(start.day, _pycal.monthrange(year, month)[1]))


def _nominal_end(start: date, amount: int, unit: str) -> date:
    if amount < 0:
        raise ValueError("amount must not be negative")
    if unit == "day":
        return start + timedelta(days=amount)  # the starting day is not counted (民法典 第201条)
    if unit == "month":
        return add_months(start, amount)
    raise ValueError(f"unknown unit {unit!r}; expected 'day' or 'month'")


def period_end(start: date, amount: int, unit: str, calendar: WorkCalendar) -> date:
    """Last day of a period of `amount` days or months starting on `start` (民诉法 第85条)."""
    return calendar.next_workday_on_or_after(_nominal_end(start, amount, unit))


@dataclass(frozen=True)
class DueDate:
    due: date
    basis: str
    rule: ClockRule
    calendar_is_estimated: bool
    note: str | None
    # The last day before the rest-day rule moved it; equals `due` when it was a working day.
    nominal_end: date
    extra_days: int = 0

    @property
    def deferred(self) -> bool:
        return self.due != self.nominal_end


def due_date(
    clock_code: str,
    start: date,
    calendar: WorkCalendar | None = None,
    extra_days: int = 0,
    paused_workdays: int = 0,
) -> DueDate:
    """Due date of a legal clock started on `start`.

    `extra_days` are calendar days added to the nominal last day before the rest-day rule:
    extensions the parties agreed to (人民调解工作若干规定 第33条, 特邀调解规定 第27条) and the time a
    calendar-day clock stood still. `paused_workdays` are the working days a working-day clock stood
    still (医疗纠纷预防和处理条例 第38条 "鉴定时间不计入调解期限"): they are counted on as working days,
    so the last day moves by exactly those. The caller sums the paused days.
    """
    rule = get_rule(clock_code)
    if extra_days < 0 or paused_workdays < 0:
        raise ValueError("extra_days and paused_workdays must not be negative")
    if paused_workdays and not rule.counts_working_days_only:
        raise ValueError("paused_workdays apply to a working-day clock only")
    cal = calendar or default_calendar()
    if rule.counts_working_days_only:
        nominal = cal.add_workdays(start, rule.amount + paused_workdays) + timedelta(days=extra_days)
    else:
        nominal = _nominal_end(start, rule.amount, rule.unit) + timedelta(days=extra_days)
    due = cal.next_workday_on_or_after(nominal)

    # Estimated if any day the rest-day rule looked at lies in a year without an official schedule; a
    # working-day clock looked at every day from the start.
    first_year = start.year if rule.counts_working_days_only else nominal.year
    unknown_years = sorted({y for y in range(first_year, due.year + 1) if not cal.knows_year(y)})
    notes = [n for n in (cal.estimate_note(y) for y in unknown_years) if n]

    counting = (
        WORKING_DAY_BASIS_ZH.format(n=rule.amount) if rule.counts_working_days_only else COUNTING_BASIS_ZH
    )
    basis = f"{rule.basis_zh}。{counting}。"
    if rule.consequence_zh:
        basis += f"{rule.consequence_zh}。"
    if paused_workdays:
        basis += f"鉴定等中止的{paused_workdays}个工作日不计入。"
    if extra_days:
        basis += f"另计延长或中止的{extra_days}日。"
    if due != nominal:
        basis += f"期间届满日{nominal.isoformat()}为休息日，顺延至{due.isoformat()}。"
    return DueDate(
        due=due,
        basis=basis,
        rule=rule,
        calendar_is_estimated=bool(unknown_years),
        note="；".join(notes) or None,
        nominal_end=nominal,
        extra_days=extra_days,
    )
