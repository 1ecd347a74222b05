"""Legal clocks and the working-day calendar, checked against published 2026 arrangements."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from lunardate import LunarDate

from models.clocks import (
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

# The first year chinese-calendar does not ship, and one well past it: tests of the estimated
# calendar use these, so they keep passing when a newer library learns next year's holidays.
LAST_PUBLISHED_YEAR = max(d.year for d in (*chinese_calendar.holidays, *chinese_calendar.workdays))
FIRST_UNPUBLISHED_YEAR = LAST_PUBLISHED_YEAR + 1
UNPUBLISHED_YEAR = LAST_PUBLISHED_YEAR + 2


def fixed_statutory_holidays(year: int) -> set[date]:
    """《全国年节及纪念日放假办法》(2024) 第二条, every day it names: 元旦 1 Jan, 劳动节 1–2 May,
    国庆节 1–3 Oct, and the lunar ones worked out independently of models/clocks.py: 春节 (除夕,
    初一–初三), 端午 and 中秋 by lunardate, 清明 from chinese-calendar's solar-term table."""
    days = {date(year, 1, 1), date(year, 5, 1), date(year, 5, 2)} | {date(year, 10, d) for d in (1, 2, 3)}
    new_year = LunarDate(year, 1, 1).to_solar_date()
    days |= {new_year + timedelta(days=k) for k in (-1, 0, 1, 2)}
    days |= {LunarDate(year, 5, 5).to_solar_date(), LunarDate(year, 8, 15).to_solar_date()}
    days |= {
        d
        for d, name in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
        if name == "清明"
    }
    return days


def art6_makeup_days(year: int) -> set[date]:
    """《全国年节及纪念日放假办法》第六条, worked out independently of models/clocks.py: every day of leave
    of 第二条 on a Saturday or Sunday, and the second holiday of a day two holidays share, is made up on
    the first weekday after it that is neither a holiday nor already a make-up day."""
    leave: list[date] = [date(year, 1, 1), date(year, 5, 1), date(year, 5, 2)]
    leave += [date(year, 10, d) for d in (1, 2, 3)]
    new_year = LunarDate(year, 1, 1).to_solar_date()
    leave += [new_year + timedelta(days=k) for k in (-1, 0, 1, 2)]
    leave += [LunarDate(year, 5, 5).to_solar_date(), LunarDate(year, 8, 15).to_solar_date()]
    leave += [d for d in fixed_statutory_holidays(year) if d.month == 4]  # 清明
    holidays = set(leave)
    owed = sorted(d for i, d in enumerate(leave) if d.weekday() >= 5 or d in leave[:i])
    made_up: set[date] = set()
    for d in owed:
        while d.weekday() >= 5 or d in holidays or d in made_up:
            d += timedelta(days=1)
        made_up.add(d)
    return made_up


def first_estimated_workday_on_or_after(d: date) -> date:
    """The rest-day rule on an unpublished year, worked out by hand: skip weekends, the fixed holidays
    and their make-up days."""
    while d.weekday() >= 5 or d in fixed_statutory_holidays(d.year) | art6_makeup_days(d.year):
        d += timedelta(days=1)
    return d


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# --- clock table ---

# Each clock's period as the texts say it (read in /work/shared/law and DESIGN.md), counted by hand from
# Monday 2 March 2026: the start day is not counted (民事诉讼法 第85条).
STATUTE_PERIODS = [
    # 人民调解工作若干规定 第33条: "一般在一个月内调结" → the same-numbered day of the next month.
    ("people_mediation", date(2026, 4, 2)),
    # 劳动争议调解仲裁法 第14条: "自劳动争议调解组织收到调解申请之日起十五日内".
    ("labor", date(2026, 3, 17)),
    # 特邀调解规定 第27条: "委派调解的案件，调解期限为30日".
    ("court_pre_filing", date(2026, 4, 1)),
    # 特邀调解规定 第27条: "委托调解的案件，适用普通程序的调解期限为15日".
    ("court_post_filing", date(2026, 3, 17)),
    # 特邀调解规定 第27条: "适用简易程序的调解期限为７日".
    ("court_post_filing_summary", date(2026, 3, 9)),
    # 信访工作条例 第23条: "自收到信访事项之日起15日内书面告知信访人".
    ("petition_reply", date(2026, 3, 17)),
    # 信访工作条例 第34条: "自受理之日起60日内办结" (29 days left in March + 30 in April + 1 May).
    ("petition_handle", date(2026, 5, 1)),
    # 医疗纠纷预防和处理条例 第38条: "自受理之日起30个工作日内" (counted in test_medical_clock_counts_…).
    ("medical", date(2026, 4, 14)),
    # 人民调解法 第33条 / 民事诉讼法 第205条: "自调解协议生效之日起三十日内".
    ("judicial_confirmation", date(2026, 4, 1)),
]


def test_every_clock_runs_the_period_its_statute_sets() -> None:
    assert sorted(CLOCK_RULES) == sorted(code for code, _ in STATUTE_PERIODS)
    for code, last_day in STATUTE_PERIODS:
        d = due_date(code, date(2026, 3, 2))
        assert d.nominal_end == last_day, code
        assert CLOCK_RULES[code].label_zh and "《" in CLOCK_RULES[code].basis_zh
    # 2026-05-01 is 劳动节 (5月1日至5日放假): only the 60-day clock is deferred, to Wednesday 6 May.
    assert due_date("petition_handle", date(2026, 3, 2)).due == date(2026, 5, 6)
    assert all(
        due_date(code, date(2026, 3, 2)).due == last_day
        for code, last_day in STATUTE_PERIODS
        if code != "petition_handle"
    )


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
    assert cal.knows_year(2004) and cal.knows_year(2026) and cal.knows_year(LAST_PUBLISHED_YEAR)
    assert not cal.knows_year(FIRST_UNPUBLISHED_YEAR) and not cal.knows_year(2003)


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


def test_unpublished_year_fallback_is_estimated() -> None:
    # 17 Dec + 15 days = 1 Jan of the first unpublished year (元旦), then weekends are skipped.
    y = FIRST_UNPUBLISHED_YEAR
    d = due_date("labor", date(y - 1, 12, 17))
    assert d.nominal_end == date(y, 1, 1)
    assert d.due == first_estimated_workday_on_or_after(date(y, 1, 2))
    assert d.calendar_is_estimated
    assert d.note is not None
    assert d.note.startswith(
        f"{y}年节假日安排尚未公布，按周末、《全国年节及纪念日放假办法》第二条规定的元旦、春节、清明"
    )
    # The note says the estimate includes 第六条's make-up days.
    assert "及其第六条的补假（假日适逢周六、周日的，在其后的工作日补假）估算，未计调休" in d.note


def test_fallback_fixed_holidays(cal: WorkCalendar) -> None:
    y = UNPUBLISHED_YEAR
    day = date(y, 1, 1)
    rest = fixed_statutory_holidays(y) | art6_makeup_days(y)
    # Every day of the year: weekends, the statutory holidays and 补假 rest, nothing else.
    while day.year == y:
        assert cal.is_workday(day) == (day.weekday() < 5 and day not in rest), day
        day += timedelta(days=1)
    # 16 Apr + 15 days = 1 May (劳动节).
    assert due_date("labor", date(y, 4, 16)).due == first_estimated_workday_on_or_after(date(y, 5, 3))


def test_ending_in_known_year_is_not_estimated() -> None:
    d = due_date("labor", date(2026, 12, 1))
    assert d.due == date(2026, 12, 16) and not d.calendar_is_estimated and d.note is None


def test_old_year_fallback_note() -> None:
    d = due_date("labor", date(2003, 3, 3))
    assert d.calendar_is_estimated
    assert d.note is not None and "2003年" in d.note


def _first_weekend_day(d: date) -> date:
    while d.weekday() < 5:
        d += timedelta(days=1)
    return d


def test_admin_schedule_overrides_fallback() -> None:
    y = FIRST_UNPUBLISHED_YEAR
    # The admin's schedule: 2–4 Jan are holidays whatever weekday they fall on, and the first weekend
    # day from 5 Jan is a 调休 working day.
    holidays = {date(y, 1, 1), date(y, 1, 2), date(y, 1, 3), date(y, 1, 4)}
    tiaoxiu = _first_weekend_day(date(y, 1, 5))
    cal = WorkCalendar(extra_schedules={y: YearSchedule(holidays=holidays, workdays={tiaoxiu})})
    assert cal.knows_year(y)
    d = due_date("labor", date(y - 1, 12, 17), calendar=cal)
    # From 5 Jan the first weekday, or the 调休 day if it comes first.
    assert d.due == min(_first_weekday(date(y, 1, 5)), tiaoxiu)
    assert not d.calendar_is_estimated and d.note is None
    # A listed 调休 weekend day is a working day; the same weekday a week later is not.
    assert cal.is_workday(tiaoxiu) and not cal.is_workday(tiaoxiu + timedelta(days=7))
    # Fixed-date fallback holidays no longer apply once the year is loaded.
    oct_1_or_next_weekday = _first_weekday(date(y, 10, 1))
    assert cal.is_workday(oct_1_or_next_weekday) and oct_1_or_next_weekday < date(y, 10, 4)


def _first_weekday(d: date) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


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
    # Across the year boundary into the estimated year (1 Jan is 元旦).
    y = FIRST_UNPUBLISHED_YEAR
    assert cal.add_workdays(date(y - 1, 12, 31), 1) == first_estimated_workday_on_or_after(date(y, 1, 2))


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


# --- 医疗纠纷 clock and the lunar fallback (issue 10) ---


def test_medical_clock_counts_thirty_working_days(cal: WorkCalendar) -> None:
    d = due_date("medical", date(2026, 3, 2), cal)
    # Mon 2 Mar 2026 not counted; working days: 3–6 Mar → 4, 9–13 → 9, 16–20 → 14, 23–27 → 19,
    # 30 Mar–3 Apr → 24, 4–6 Apr 清明 off (chinese-calendar 2026), 7–10 Apr → 28, 13 Apr → 29, 14 Apr → 30.
    assert d.due == date(2026, 4, 14)
    assert not d.calendar_is_estimated
    rule = CLOCK_RULES["medical"]
    assert rule.counts_working_days_only and rule.amount == 30
    assert "视为调解不成" in rule.consequence_zh and "视为调解不成" in d.basis
    # An agreed extension or an appraisal pause adds calendar days after the 30th working day:
    # 14 Apr + 4 = Sat 18 Apr, deferred to Mon 20 Apr.
    assert due_date("medical", date(2026, 3, 2), cal, extra_days=4).due == date(2026, 4, 20)


def test_medical_clock_into_unknown_year_is_estimated() -> None:
    y = FIRST_UNPUBLISHED_YEAR
    d = due_date("medical", date(y - 1, 12, 1))
    assert d.calendar_is_estimated and d.note is not None and f"{y}年" in d.note
    # Worked out by hand on the estimated calendar: 30 working days from 1 Dec of the last known year.
    day, left = date(y - 1, 12, 1), 30
    while left:
        day += timedelta(days=1)
        known = day.year <= LAST_PUBLISHED_YEAR
        if chinese_calendar.is_workday(day) if known else first_estimated_workday_on_or_after(day) == day:
            left -= 1
    assert d.due == day


def test_medical_clock_label_and_citation() -> None:
    from models.deadlines import clocks_for
    from models.enums import ClockCode
    from models.law import clock_citation

    assert ClockCode.medical.label == "医疗纠纷调解"
    [clock] = clocks_for(category="medical", referral_kind=None)
    assert (clock.code, clock.starts, clock.main) == ("medical", "acceptance", True)
    # A court-referred medical case runs the court's clock.
    assert clocks_for(category="medical", referral_kind="court_pre_filing")[0].code == "court_pre_filing"
    cite = clock_citation("medical")
    assert cite is not None and cite.number == "第三十八条" and "30个工作日" in cite.text


def test_qingming_formula_matches_chinese_calendar_solar_terms() -> None:
    from models.clocks import qingming_day

    for year in range(1901, 2100):
        terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
        assert [d for d, name in terms if name == "清明"] == [qingming_day(year)], year


def test_fallback_lunar_holidays_are_holidays_in_every_known_year() -> None:
    from models.clocks import fallback_holidays, qingming_day

    first = min(d.year for d in chinese_calendar.holidays)
    for year in range(max(first, 2004), LAST_PUBLISHED_YEAR + 1):
        fallback = fallback_holidays(year)
        new_year = LunarDate(year, 1, 1).to_solar_date()
        lunar = {"春节": new_year}
        # 清明、端午、中秋 became statutory holidays with the 2007 revision (from 2008).
        if year >= 2008:
            lunar |= {
                "清明": qingming_day(year),
                "端午": LunarDate(year, 5, 5).to_solar_date(),
                "中秋": LunarDate(year, 8, 15).to_solar_date(),
            }
        for name, day in lunar.items():
            assert day in fallback, (year, name)
            assert chinese_calendar.is_holiday(day), (year, name, day)
