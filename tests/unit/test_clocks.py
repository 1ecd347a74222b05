"""Legal clocks and the working-day calendar, checked against published 2026 arrangements."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest

from flows.clocks import (
    CLOCK_RULES,
    ScheduleParseError,
    UnknownClockError,
    WorkCalendar,
    YearSchedule,
    add_months,
    due_date,
    parse_year_schedule,
    period_end,
)

CONTRACT_CLOCKS = {
    "people_mediation": (1, "month"),
    "labor": (15, "day"),
    "court_pre_filing": (30, "day"),
    "court_post_filing": (15, "day"),
    "court_post_filing_summary": (7, "day"),
    "petition_reply": (15, "day"),
    "petition_handle": (60, "day"),
    "judicial_confirmation": (30, "day"),
}


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# --- clock table ---


def test_clock_table_matches_contract() -> None:
    assert {c: (r.amount, r.unit) for c, r in CLOCK_RULES.items()} == CONTRACT_CLOCKS
    for code, rule in CLOCK_RULES.items():
        assert rule.code == code
        assert rule.label_zh and "《" in rule.basis_zh
        assert rule.counts_working_days_only is False  # the law counts natural days


def test_basis_cites_the_law() -> None:
    assert "第十四条" in CLOCK_RULES["labor"].basis_zh
    assert "第三十三条" in CLOCK_RULES["people_mediation"].basis_zh
    assert "第二十七条" in CLOCK_RULES["court_post_filing_summary"].basis_zh
    assert "第二百零五条" in CLOCK_RULES["judicial_confirmation"].basis_zh
    d = due_date("labor", date(2026, 3, 2))
    assert "第八十五条" in d.basis and "劳动争议调解仲裁法" in d.basis


def test_unknown_clock() -> None:
    with pytest.raises(UnknownClockError) as e:
        due_date("nope", date(2026, 3, 2))
    assert e.value.message == "未知的期限类型：nope"
    assert isinstance(e.value, ValueError)


# --- the calendar agrees with chinese_calendar ---


def test_library_years_follow_chinese_calendar(cal: WorkCalendar) -> None:
    d = date(2026, 1, 1)
    while d.year == 2026:
        assert cal.is_workday(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)
    assert cal.knows_year(2004) and cal.knows_year(2026)
    assert not cal.knows_year(2027) and not cal.knows_year(2003)


def test_2026_national_day_facts(cal: WorkCalendar) -> None:
    # 2026: 10月1日至7日放假, 9月20日(周日)、10月10日(周六)上班.
    assert all(not cal.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert cal.is_workday(date(2026, 10, 8))
    assert cal.is_workday(date(2026, 9, 20)) and date(2026, 9, 20).weekday() == 6
    assert cal.is_workday(date(2026, 10, 10)) and date(2026, 10, 10).weekday() == 5
    assert not cal.is_workday(date(2026, 10, 11))


# --- period counting ---


def test_labor_across_national_day_2026() -> None:
    # 2026-09-20 + 15 days = 2026-10-05, inside the holiday -> next working day 2026-10-08.
    d = due_date("labor", date(2026, 9, 20))
    assert d.nominal_end == date(2026, 10, 5)
    assert d.due == date(2026, 10, 8)
    assert d.deferred and not d.calendar_is_estimated and d.note is None
    assert "顺延至2026-10-08" in d.basis


def test_start_day_not_counted(cal: WorkCalendar) -> None:
    assert period_end(date(2026, 3, 2), 15, "day", cal) == date(2026, 3, 17)
    assert due_date("petition_handle", date(2026, 8, 1)).due == date(2026, 9, 30)


def test_saturday_end_moves_to_monday(cal: WorkCalendar) -> None:
    # 2026-02-20 + 15 = 2026-03-07, an ordinary Saturday.
    assert date(2026, 3, 7).weekday() == 5 and not chinese_calendar.is_workday(date(2026, 3, 7))
    assert period_end(date(2026, 2, 20), 15, "day", cal) == date(2026, 3, 9)


def test_tiaoxiu_working_saturday_stays(cal: WorkCalendar) -> None:
    # 2026-09-25 + 15 = 2026-10-10, a Saturday made a working day by 调休.
    d = due_date("labor", date(2026, 9, 25))
    assert d.due == date(2026, 10, 10) and not d.deferred
    # 2026-02-13 + 15 = 2026-02-28, a working Saturday after the Spring Festival.
    assert period_end(date(2026, 2, 13), 15, "day", cal) == date(2026, 2, 28)


def test_month_periods() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 3, 31), 1) == date(2026, 4, 30)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
    assert add_months(date(2026, 5, 10), 14) == date(2027, 7, 10)
    # 2026-02-28 is a 调休 working Saturday, so no deferral.
    assert due_date("people_mediation", date(2026, 1, 31)).due == date(2026, 2, 28)
    assert due_date("people_mediation", date(2024, 1, 31)).due == date(2024, 2, 29)


def test_other_clocks_across_holidays() -> None:
    # 2026-09-01 + 30 = 2026-10-01 (国庆) -> 2026-10-08.
    assert due_date("judicial_confirmation", date(2026, 9, 1)).due == date(2026, 10, 8)
    # 2026-04-24 + 7 = 2026-05-01 (劳动节, 5月1日至5日) -> 2026-05-06.
    assert due_date("court_post_filing_summary", date(2026, 4, 24)).due == date(2026, 5, 6)


def test_extra_days_then_rest_day_rule() -> None:
    # 2026-03-10 + 1 month = 2026-04-10; +15 agreed days = 2026-04-25 (Sat) -> Mon 2026-04-27.
    d = due_date("people_mediation", date(2026, 3, 10), extra_days=15)
    assert d.nominal_end == date(2026, 4, 25)
    assert d.due == date(2026, 4, 27)
    assert d.extra_days == 15 and "15日" in d.basis
    with pytest.raises(ValueError):
        due_date("labor", date(2026, 3, 10), extra_days=-1)


def test_bad_period_arguments(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        period_end(date(2026, 3, 2), 1, "week", cal)
    with pytest.raises(ValueError):
        period_end(date(2026, 3, 2), -1, "day", cal)


# --- fallback and admin schedules ---


def test_2027_fallback_is_estimated() -> None:
    # 2026-12-17 + 15 = 2027-01-01 (元旦, Friday) -> Sat, Sun -> Monday 2027-01-04.
    d = due_date("labor", date(2026, 12, 17))
    assert d.due == date(2027, 1, 4)
    assert d.calendar_is_estimated
    assert d.note is not None
    assert d.note.startswith("2027年节假日安排尚未公布，按周末及元旦、劳动节、国庆节法定假日推算")


def test_fallback_fixed_holidays(cal: WorkCalendar) -> None:
    assert not cal.is_workday(date(2027, 5, 1)) and not cal.is_workday(date(2027, 5, 2))
    assert cal.is_workday(date(2027, 5, 3))  # Monday; 调休 unknown until published
    assert [cal.is_workday(date(2027, 10, d)) for d in range(1, 5)] == [False, False, False, True]
    assert cal.is_workday(date(2027, 3, 1)) and not cal.is_workday(date(2027, 3, 6))
    assert due_date("labor", date(2027, 4, 16)).due == date(2027, 5, 3)


def test_ending_in_known_year_is_not_estimated() -> None:
    d = due_date("labor", date(2026, 12, 1))
    assert d.due == date(2026, 12, 16) and not d.calendar_is_estimated and d.note is None


def test_old_year_fallback_note() -> None:
    d = due_date("labor", date(2003, 3, 3))
    assert d.calendar_is_estimated
    assert d.note is not None and "2003年" in d.note


def test_admin_schedule_overrides_fallback() -> None:
    sched = YearSchedule(holidays={date(2027, 1, 1), date(2027, 1, 4)}, workdays={date(2027, 1, 9)})
    cal = WorkCalendar(extra_schedules={2027: sched})
    assert cal.knows_year(2027)
    d = due_date("labor", date(2026, 12, 17), calendar=cal)
    assert d.due == date(2027, 1, 5)
    assert not d.calendar_is_estimated and d.note is None
    # A listed 调休 Saturday is a working day; an unlisted one is not.
    assert cal.is_workday(date(2027, 1, 9)) and not cal.is_workday(date(2027, 1, 16))
    # Fixed-date fallback holidays no longer apply once the year is loaded.
    assert cal.is_workday(date(2027, 10, 1))


def test_admin_schedule_overrides_library_year() -> None:
    cal = WorkCalendar(extra_schedules={2026: YearSchedule(holidays={date(2026, 3, 17)})})
    assert period_end(date(2026, 3, 2), 15, "day", cal) == date(2026, 3, 18)


def test_schedule_year_must_match_key() -> None:
    with pytest.raises(ValueError):
        WorkCalendar(extra_schedules={2028: YearSchedule(holidays={date(2027, 1, 1)})})
    with pytest.raises(ValueError):
        YearSchedule(holidays={date(2027, 1, 2)}, workdays={date(2027, 1, 2)})


def test_workday_arithmetic(cal: WorkCalendar) -> None:
    assert cal.next_workday_on_or_after(date(2026, 10, 1)) == date(2026, 10, 8)
    assert cal.next_workday_on_or_after(date(2026, 9, 30)) == date(2026, 9, 30)
    assert cal.add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.add_workdays(date(2026, 10, 8), 2) == date(2026, 10, 10)
    assert cal.add_workdays(date(2026, 10, 8), -1) == date(2026, 9, 30)
    assert cal.add_workdays(date(2026, 10, 8), 0) == date(2026, 10, 8)
    assert cal.workdays_between(date(2026, 9, 30), date(2026, 10, 8)) == 1
    assert cal.workdays_between(date(2026, 10, 8), date(2026, 9, 30)) == -1
    assert cal.workdays_between(date(2026, 10, 1), date(2026, 10, 1)) == 0
    # Across the year boundary into the estimated year.
    assert cal.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)


# --- schedule upload format ---

GOOD_SCHEDULE = """\
# 2027年放假安排（示例）
2027-01-01 holiday 元旦

2027-02-06 班   # 春节调休
2027-02-07 workday
2027-02-08 休
2027-02-09 holiday
"""


def test_parse_year_schedule() -> None:
    s = parse_year_schedule(GOOD_SCHEDULE)
    assert s.holidays == {date(2027, 1, 1), date(2027, 2, 8), date(2027, 2, 9)}
    assert s.workdays == {date(2027, 2, 6), date(2027, 2, 7)}
    cal = WorkCalendar(extra_schedules={2027: s})
    assert cal.is_workday(date(2027, 2, 7)) and not cal.is_workday(date(2027, 2, 9))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2027-01-01 holiday\n2027-13-01 holiday", "第2行：“2027-13-01”不是有效日期"),
        ("2027-01-01 holiday\n\n2027/01/02 holiday", "第3行：日期格式应为YYYY-MM-DD"),
        ("# c\n2027-01-01 vacation", "第2行：类型应为holiday（休）或workday（班）"),
        ("2027-01-01", "第1行：应为“日期 类型”"),
        ("2027-01-01 holiday\n2028-01-01 holiday", "第2行：2028-01-01不属于2027年"),
        ("2027-02-06 workday\n2027-02-06 holiday", "第2行：2027-02-06与第1行矛盾"),
        ("2027-02-08 workday", "第1行：2027-02-08是周一至周五"),
    ],
)
def test_parse_errors_name_the_line(text: str, fragment: str) -> None:
    with pytest.raises(ScheduleParseError) as e:
        parse_year_schedule(text)
    assert fragment in e.value.message


def test_parse_empty_and_year_check() -> None:
    with pytest.raises(ScheduleParseError) as e:
        parse_year_schedule("# nothing\n\n")
    assert "未找到任何日期" in e.value.message
    with pytest.raises(ScheduleParseError) as e:
        parse_year_schedule("2027-01-01 holiday", year=2028)
    assert e.value.line_no == 1
