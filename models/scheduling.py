"""Scheduling a session: what the scheduler is warned about, and the one date refused as a typo.

A warning never refuses: a center may meet on a Saturday, or past the stage deadline with the parties
willing. The page shows the warnings before saving (and saves once confirmed); the JSON API saves and
answers them, the calling system decides. One place for the rules: flows/sessions.py and both the
page and the route read them from here.
"""

from __future__ import annotations

from datetime import date, datetime

from models.clocks import WorkCalendar
from models.deadlines import china_date, last_day
from models.lifecycle import InvalidInput

_WEEKDAYS_ZH = "一二三四五六日"


def latest_schedulable_day(now: datetime) -> date:
    """The last day a session may be scheduled for: the same calendar day a year from today (China
    time; 29 Feb → 28 Feb). Every mediation period runs for weeks, not months (劳动争议 15 days,
    人民调解 about a month, 医疗 30 working days, extensions in 15-day steps), so a session more than a
    year ahead is a mistyped year (2027 for 2026), never a plan; a year leaves room for any extension
    and for a court-entrusted case's long wait."""
    today = china_date(now)
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


def check_horizon(start: datetime, now: datetime) -> None:
    last = latest_schedulable_day(now)
    if china_date(start) > last:
        raise InvalidInput(
            f"调解时间不能晚于一年后（最后一日：{last.isoformat()}），请检查年份是否输入有误",
            field="scheduled_at",
        )


def schedule_warnings(*, start: datetime, stage_due_at: datetime | None, calendar: WorkCalendar) -> list[str]:
    """Chinese lines for a session time past the stage's last allowed day, on a weekend, or on a
    public holiday (a 调休 make-up Saturday is a working day: no warning)."""
    day = china_date(start)
    warnings = []
    last = last_day(stage_due_at)
    if last is not None and day > last:
        warnings.append(f"所选时间晚于本阶段期限（最后一日：{last.isoformat()}）")
    if not calendar.is_workday(day):
        holiday = calendar.holiday_name(day)
        weekday = f"星期{_WEEKDAYS_ZH[day.weekday()]}"
        if holiday:
            warnings.append(f"所选日期{day.isoformat()}（{weekday}）为法定节假日（{holiday}）")
        elif day.weekday() >= 5:
            warnings.append(f"所选日期{day.isoformat()}为周末（{weekday}）")
        else:
            warnings.append(f"所选日期{day.isoformat()}（{weekday}）为休息日")
    return warnings
