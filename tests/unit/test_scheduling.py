"""models.scheduling: the warnings and the one-year typo guard, on hand-picked days of 2026's published
schedule as chinese-calendar ships it (国庆 10月1日至7日放假; 9月20日（星期日）、10月10日（星期六）上班)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.clocks import default_calendar
from models.lifecycle import InvalidInput
from models.scheduling import check_horizon, latest_schedulable_day, schedule_warnings
from tests.support.clock import on


def _warnings(day: str, last_day: str | None = None) -> list[str]:
    due = on(last_day, 0) + timedelta(days=1) if last_day else None  # 24:00 of the last day
    return schedule_warnings(start=on(day), stage_due_at=due, calendar=default_calendar())


def test_weekend_holiday_and_make_up_day() -> None:
    assert _warnings("2026-10-17") == ["所选日期2026-10-17为周末（星期六）"]
    assert _warnings("2026-10-18") == ["所选日期2026-10-18为周末（星期日）"]
    assert _warnings("2026-10-01") == ["所选日期2026-10-01（星期四）为法定节假日（国庆节）"]
    # A Saturday inside the holiday is named as the holiday, not as a weekend.
    assert _warnings("2026-10-03") == ["所选日期2026-10-03（星期六）为法定节假日（国庆节）"]
    assert _warnings("2026-10-10") == []  # 调休: a working Saturday
    assert _warnings("2026-10-09") == []


def test_past_the_last_allowed_day() -> None:
    assert _warnings("2026-10-14", last_day="2026-10-14") == []
    assert _warnings("2026-10-15", last_day="2026-10-14") == [
        "所选时间晚于本阶段期限（最后一日：2026-10-14）"
    ]
    # 23:30 China time on the last day is still that day.
    late = schedule_warnings(
        start=on("2026-10-14", 23).replace(minute=30),
        stage_due_at=on("2026-10-15", 0),
        calendar=default_calendar(),
    )
    assert late == []


def test_a_year_ahead_is_the_bound() -> None:
    now = on("2026-12-07", 23)  # late evening: the China day counts, not UTC's
    assert latest_schedulable_day(now) == date(2027, 12, 7)
    check_horizon(on("2027-12-07", 17), now)
    with pytest.raises(InvalidInput) as refused:
        check_horizon(on("2027-12-08"), now)
    assert refused.value.field == "scheduled_at"
    assert "最后一日：2027-12-07" in refused.value.message
    assert latest_schedulable_day(on("2028-02-29")) == date(2029, 2, 28)
