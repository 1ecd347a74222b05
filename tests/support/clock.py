"""The one test clock: China wall-clock times as aware datetimes.

The zone is spelled here rather than imported from the application, so that a test of "the day is
China's" does not take its meaning from the constant it checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """`at(2026, 11, 2, 9)`: 09:00 on 2 Nov 2026, China time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=CHINA)


def on(day: date | str, hour: int = 9, minute: int = 0) -> datetime:
    """A China wall-clock time on a date (a `date` or "YYYY-MM-DD")."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(hour, minute), tzinfo=CHINA)


def china_today() -> date:
    return datetime.now(CHINA).date()


def days_from_today(days: int, hour: int = 9, minute: int = 0) -> datetime:
    """A China wall-clock time `days` after today (negative: before), for tests against the real clock."""
    return on(china_today() + timedelta(days=days), hour, minute)


def in_month(year: int, month: int, *, hour: int = 10) -> Callable[..., datetime]:
    """A shorter clock for a test that stays in one month: `nov = in_month(2026, 11)`, `nov(2, 9)`."""

    def at_day(day: int, hour: int = hour, minute: int = 0) -> datetime:
        return at(year, month, day, hour, minute)

    return at_day


def in_year(year: int, *, hour: int = 10) -> Callable[..., datetime]:
    """A shorter clock for a test that stays in one year: `at = in_year(2026)`, `at(11, 2, 9)`."""

    def at_date(month: int, day: int, hour: int = hour, minute: int = 0) -> datetime:
        return at(year, month, day, hour, minute)

    return at_date
