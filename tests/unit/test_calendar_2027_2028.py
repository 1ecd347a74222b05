"""62 dates of 2027–2028, years whose State Council arrangement is not published, counted by hand
(issue 19 point 1) — never by calling our code. The estimate rests on weekends, the holidays of
《全国年节及纪念日放假办法》第二条 and the make-up days (补假) of its 第六条 ("全体公民放假的假日，如果适逢
周六、周日，应当在工作日补假"), taken on the first working days after the holiday (models/clocks.py
`makeup_days`; a day two holidays share is made up too).

The rest days the counts below use, read off a printed calendar and the lunar dates:
2027  元旦 Fri 1 Jan · 春节 除夕 Fri 5 Feb, 初一 Sat 6, 初二 Sun 7, 初三 Mon 8 Feb → 补假 Tue 9, Wed 10 Feb ·
      清明 Mon 5 Apr · 劳动节 Sat 1, Sun 2 May → 补假 Mon 3, Tue 4 May · 端午 Wed 9 Jun · 中秋 Wed 15 Sep ·
      国庆 Fri 1, Sat 2, Sun 3 Oct → 补假 Mon 4, Tue 5 Oct.
2028  元旦 Sat 1 Jan → 补假 Mon 3 Jan · 春节 除夕 Tue 25 – 初三 Fri 28 Jan (no weekend day) · 清明 Tue 4 Apr ·
      劳动节 Mon 1, Tue 2 May · 端午 Sun 28 May → 补假 Mon 29 May · 国庆 Sun 1, Mon 2, Tue 3 Oct with 中秋 on
      Tue 3 Oct → 补假 Wed 4 (for Sun 1 Oct), Thu 5 Oct (for 中秋 sharing 3 Oct).

A calendar-day period ends on start + N days (民法典 第201条: the start day is not counted), or the same day
of the next month (第202条), moved to the next working day if that is a rest day (民诉法 第85条). The medical
clock counts 30 working days (医疗纠纷预防和处理条例 第38条); the center's 3- and 5-working-day limits
(models/deadlines.py STAGE_LIMITS) count working days after the day.
"""

from __future__ import annotations

from datetime import date

import chinese_calendar
import pytest

from models.clocks import default_calendar, due_date

D = date

PERIODS: list[tuple[str, date, date, str]] = [
    # --- 劳动争议调解 15 日 (劳动争议调解仲裁法 第14条) ---
    (
        "labor",
        D(2027, 1, 26),
        D(2027, 2, 11),
        "26 Jan + 15 = Wed 10 Feb, 补假 for 初二 → Thu 11 Feb (the issue's)",
    ),
    (
        "labor",
        D(2027, 1, 21),
        D(2027, 2, 11),
        "21 Jan + 15 = Fri 5 Feb 除夕; 6–8 春节, 9–10 补假 → Thu 11 Feb",
    ),
    ("labor", D(2027, 1, 25), D(2027, 2, 11), "25 Jan + 15 = Tue 9 Feb 补假; 10 补假 → Thu 11 Feb"),
    ("labor", D(2027, 1, 27), D(2027, 2, 11), "27 Jan + 15 = Thu 11 Feb, a working day"),
    ("labor", D(2027, 4, 16), D(2027, 5, 5), "16 Apr + 15 = Sat 1 May 劳动节; 2 Sun, 3–4 补假 → Wed 5 May"),
    ("labor", D(2027, 4, 18), D(2027, 5, 5), "18 Apr + 15 = Mon 3 May 补假; 4 补假 → Wed 5 May"),
    ("labor", D(2027, 4, 19), D(2027, 5, 5), "19 Apr + 15 = Tue 4 May 补假 → Wed 5 May"),
    ("labor", D(2027, 9, 16), D(2027, 10, 6), "16 Sep + 15 = Fri 1 Oct 国庆; 2–3, 补假 4–5 → Wed 6 Oct"),
    ("labor", D(2027, 9, 19), D(2027, 10, 6), "19 Sep + 15 = Mon 4 Oct 补假; 5 补假 → Wed 6 Oct"),
    ("labor", D(2027, 9, 20), D(2027, 10, 6), "20 Sep + 15 = Tue 5 Oct 补假 → Wed 6 Oct"),
    ("labor", D(2027, 12, 17), D(2028, 1, 4), "17 Dec + 15 = Sat 1 Jan 元旦; Sun 2, Mon 3 补假 → Tue 4 Jan"),
    ("labor", D(2027, 12, 19), D(2028, 1, 4), "19 Dec + 15 = Mon 3 Jan 2028 补假 → Tue 4 Jan"),
    ("labor", D(2028, 5, 13), D(2028, 5, 30), "13 May + 15 = Sun 28 May 端午; Mon 29 补假 → Tue 30 May"),
    ("labor", D(2028, 5, 14), D(2028, 5, 30), "14 May + 15 = Mon 29 May 补假 → Tue 30 May"),
    ("labor", D(2028, 9, 16), D(2028, 10, 6), "16 Sep + 15 = Sun 1 Oct; 2–3 国庆, 4–5 补假 → Fri 6 Oct"),
    ("labor", D(2028, 9, 19), D(2028, 10, 6), "19 Sep + 15 = Wed 4 Oct 补假; 5 补假 → Fri 6 Oct"),
    ("labor", D(2028, 9, 20), D(2028, 10, 6), "20 Sep + 15 = Thu 5 Oct 补假 (中秋 on 3 Oct) → Fri 6 Oct"),
    (
        "labor",
        D(2027, 5, 25),
        D(2027, 6, 10),
        "25 May + 15 = Wed 9 Jun 端午 (a weekday: no 补假) → Thu 10 Jun",
    ),
    ("labor", D(2027, 8, 31), D(2027, 9, 16), "31 Aug + 15 = Wed 15 Sep 中秋 → Thu 16 Sep"),
    (
        "labor",
        D(2028, 1, 10),
        D(2028, 1, 31),
        "10 Jan + 15 = Tue 25 Jan 除夕; 26–28 春节, 29–30 weekend → Mon 31 Jan",
    ),
    # --- 委托调解 15 日 / 简易程序 7 日 (特邀调解规定 第27条) ---
    (
        "court_post_filing_summary",
        D(2027, 2, 2),
        D(2027, 2, 11),
        "2 Feb + 7 = Tue 9 Feb 补假; 10 补假 → Thu 11 Feb",
    ),
    (
        "court_post_filing_summary",
        D(2027, 4, 26),
        D(2027, 5, 5),
        "26 Apr + 7 = Mon 3 May 补假; 4 补假 → Wed 5 May",
    ),
    (
        "court_post_filing_summary",
        D(2027, 9, 27),
        D(2027, 10, 6),
        "27 Sep + 7 = Mon 4 Oct 补假; 5 补假 → Wed 6 Oct",
    ),
    ("court_post_filing_summary", D(2027, 12, 27), D(2028, 1, 4), "27 Dec + 7 = Mon 3 Jan 补假 → Tue 4 Jan"),
    (
        "court_post_filing_summary",
        D(2028, 5, 22),
        D(2028, 5, 30),
        "22 May + 7 = Mon 29 May 补假 → Tue 30 May",
    ),
    (
        "court_post_filing_summary",
        D(2028, 9, 27),
        D(2028, 10, 6),
        "27 Sep + 7 = Wed 4 Oct 补假; 5 补假 → Fri 6 Oct",
    ),
    ("court_post_filing", D(2027, 4, 19), D(2027, 5, 5), "19 Apr + 15 = Tue 4 May 补假 → Wed 5 May"),
    (
        "court_post_filing",
        D(2028, 9, 18),
        D(2028, 10, 6),
        "18 Sep + 15 = Tue 3 Oct 国庆+中秋; 4–5 补假 → Fri 6 Oct",
    ),
    # --- 委派调解 30 日 (特邀调解规定 第27条) ---
    (
        "court_pre_filing",
        D(2027, 1, 10),
        D(2027, 2, 11),
        "10 Jan + 21 = 31 Jan, + 9 = Tue 9 Feb 补假; 10 → Thu 11 Feb",
    ),
    (
        "court_pre_filing",
        D(2027, 4, 3),
        D(2027, 5, 5),
        "3 Apr + 27 = 30 Apr, + 3 = Mon 3 May 补假; 4 → Wed 5 May",
    ),
    (
        "court_pre_filing",
        D(2027, 9, 4),
        D(2027, 10, 6),
        "4 Sep + 26 = 30 Sep, + 4 = Mon 4 Oct 补假; 5 → Wed 6 Oct",
    ),
    (
        "court_pre_filing",
        D(2027, 12, 4),
        D(2028, 1, 4),
        "4 Dec + 27 = 31 Dec, + 3 = Mon 3 Jan 补假 → Tue 4 Jan",
    ),
    (
        "court_pre_filing",
        D(2028, 4, 29),
        D(2028, 5, 30),
        "29 Apr + 1 = 30 Apr, + 29 = Mon 29 May 补假 → Tue 30 May",
    ),
    (
        "court_pre_filing",
        D(2028, 9, 5),
        D(2028, 10, 6),
        "5 Sep + 25 = 30 Sep, + 5 = Thu 5 Oct 补假 → Fri 6 Oct",
    ),
    # --- 信访 15 日告知 / 60 日办结 (信访工作条例 第23、34条) ---
    ("petition_reply", D(2027, 1, 25), D(2027, 2, 11), "25 Jan + 15 = Tue 9 Feb 补假; 10 → Thu 11 Feb"),
    ("petition_reply", D(2027, 12, 18), D(2028, 1, 4), "18 Dec + 15 = Sun 2 Jan; Mon 3 补假 → Tue 4 Jan"),
    (
        "petition_handle",
        D(2027, 3, 4),
        D(2027, 5, 5),
        "4 Mar + 27 = 31 Mar, + 30 = 30 Apr, + 3 = Mon 3 May 补假 → Wed 5 May",
    ),
    (
        "petition_handle",
        D(2027, 8, 5),
        D(2027, 10, 6),
        "5 Aug + 26 = 31 Aug, + 30 = 30 Sep, + 4 = Mon 4 Oct 补假 → Wed 6 Oct",
    ),
    (
        "petition_handle",
        D(2028, 3, 30),
        D(2028, 5, 30),
        "30 Mar + 1 = 31 Mar, + 30 = 30 Apr, + 29 = Mon 29 May 补假 → Tue 30 May",
    ),
    # --- 申请司法确认 30 日 (人民调解法 第33条) ---
    (
        "judicial_confirmation",
        D(2028, 9, 4),
        D(2028, 10, 6),
        "4 Sep + 26 = 30 Sep, + 4 = Wed 4 Oct 补假; 5 → Fri 6 Oct",
    ),
    (
        "judicial_confirmation",
        D(2027, 1, 11),
        D(2027, 2, 11),
        "11 Jan + 20 = 31 Jan, + 10 = Wed 10 Feb 补假 → Thu 11 Feb",
    ),
    # --- 人民调解 一个月 (2002 规定 第33条; 民法典 第202条: the same-numbered day) ---
    ("people_mediation", D(2027, 1, 9), D(2027, 2, 11), "9 Jan → Tue 9 Feb 补假; 10 → Thu 11 Feb"),
    ("people_mediation", D(2027, 4, 3), D(2027, 5, 5), "3 Apr → Mon 3 May 补假; 4 → Wed 5 May"),
    ("people_mediation", D(2027, 9, 4), D(2027, 10, 6), "4 Sep → Mon 4 Oct 补假; 5 → Wed 6 Oct"),
    ("people_mediation", D(2027, 12, 3), D(2028, 1, 4), "3 Dec → Mon 3 Jan 补假 → Tue 4 Jan"),
    ("people_mediation", D(2028, 4, 29), D(2028, 5, 30), "29 Apr → Mon 29 May 补假 → Tue 30 May"),
    ("people_mediation", D(2028, 9, 1), D(2028, 10, 6), "1 Sep → Sun 1 Oct; 2–3 国庆, 4–5 补假 → Fri 6 Oct"),
    # --- 医疗纠纷 30 个工作日 (医疗纠纷预防和处理条例 第38条) ---
    (
        "medical",
        D(2027, 4, 28),
        D(2027, 6, 14),
        "Apr 29–30 (2); May 1–2 劳动节, 3–4 补假; May 5–7 (5), 10–14 (10), 17–21 (15), 24–28 (20), "
        "May 31–Jun 4 (25), Jun 7–8 (27); 9 端午; 10–11 (29), Mon 14 Jun (30) — the issue's",
    ),
    (
        "medical",
        D(2027, 1, 4),
        D(2027, 2, 19),
        "Jan 5–8 (4), 11–15 (9), 18–22 (14), 25–29 (19), Feb 1–4 (23); 5 除夕, 6–8 春节, 9–10 补假; "
        "Feb 11–12 (25), 15–19 (30) → Fri 19 Feb",
    ),
    (
        "medical",
        D(2027, 9, 1),
        D(2027, 10, 19),
        "Sep 2–3 (2), 6–10 (7), 13–14 (9); 15 中秋; 16–17 (11), 20–24 (16), 27–30 (20); Oct 1–3 国庆, "
        "4–5 补假; Oct 6–8 (23), 11–15 (28), 18 (29), Tue 19 Oct (30)",
    ),
    (
        "medical",
        D(2027, 12, 1),
        D(2028, 1, 13),
        "Dec 2–3 (2), 6–10 (7), 13–17 (12), 20–24 (17), 27–31 (22); Jan 1 元旦 (Sat), 3 补假; "
        "Jan 4–7 (26), 10–13 (30) → Thu 13 Jan 2028",
    ),
    (
        "medical",
        D(2028, 1, 4),
        D(2028, 2, 21),
        "Jan 5–7 (3), 10–14 (8), 17–21 (13), 24 (14); 25–28 春节; Jan 31–Feb 4 (19), 7–11 (24), "
        "14–18 (29), Mon 21 Feb (30)",
    ),
    (
        "medical",
        D(2028, 4, 25),
        D(2028, 6, 9),
        "Apr 26–28 (3); May 1–2 劳动节; May 3–5 (6), 8–12 (11), 15–19 (16), 22–26 (21); 28 端午 (Sun), "
        "29 补假; May 30–Jun 2 (25), Jun 5–9 (30) → Fri 9 Jun",
    ),
    (
        "medical",
        D(2028, 9, 15),
        D(2028, 11, 2),
        "Sep 18–22 (5), 25–29 (10); Oct 1 (Sun), 2–3 国庆 (3 also 中秋), 4–5 补假; Oct 6 (11), 9–13 (16), "
        "16–20 (21), 23–27 (26), 30–31 (28), Nov 1 (29), Thu 2 Nov (30)",
    ),
]

# The center's limits in working days (受理/组建专班 3, 制作协议 5): the n-th working day after the day.
WORKING_DAY_LIMITS: list[tuple[date, int, date, str]] = [
    (D(2027, 2, 4), 3, D(2027, 2, 15), "Feb 5–10 rest (除夕, 春节, 补假); 11 (1), 12 (2), Mon 15 (3)"),
    (D(2027, 4, 30), 3, D(2027, 5, 7), "May 1–4 rest (劳动节, 补假); 5 (1), 6 (2), Fri 7 (3)"),
    (
        D(2027, 9, 29),
        5,
        D(2027, 10, 11),
        "Sep 30 (1); Oct 1–5 rest (国庆, 补假); 6 (2), 7 (3), 8 (4), Mon 11 (5)",
    ),
    (D(2027, 12, 30), 3, D(2028, 1, 5), "Dec 31 (1); Jan 1–3 rest (元旦 Sat, 补假 Mon); 4 (2), Wed 5 (3)"),
    (
        D(2028, 5, 25),
        5,
        D(2028, 6, 2),
        "May 26 (1); 27–29 rest (端午 Sun, 补假); 30 (2), 31 (3), Jun 1 (4), Fri 2 (5)",
    ),
    (
        D(2028, 9, 29),
        3,
        D(2028, 10, 10),
        "Sep 30–Oct 5 rest (weekend, 国庆, 中秋, 补假); Oct 6 (1), 9 (2), Tue 10 (3)",
    ),
    (D(2028, 1, 21), 5, D(2028, 2, 3), "Jan 24 (1); 25–28 春节; 31 (2), Feb 1 (3), 2 (4), Thu 3 (5)"),
    (D(2027, 6, 8), 3, D(2027, 6, 14), "Jun 9 端午; 10 (1), 11 (2), Mon 14 (3)"),
]

needs_estimate = pytest.mark.skipif(
    max(d.year for d in chinese_calendar.holidays) >= 2027,
    reason="chinese-calendar now ships 2027: these dates test the estimate, not the published schedule",
)


def test_sixty_dates_are_counted() -> None:
    assert len(PERIODS) + len(WORKING_DAY_LIMITS) >= 60


@needs_estimate
@pytest.mark.parametrize(
    ("clock", "start", "expected", "how"), PERIODS, ids=[f"{p[0]}-{p[1]}" for p in PERIODS]
)
def test_hand_counted_periods(clock: str, start: date, expected: date, how: str) -> None:
    d = due_date(clock, start)
    assert d.due == expected, how
    assert d.calendar_is_estimated and d.note is not None
    assert "第六条的补假" in d.note


@needs_estimate
@pytest.mark.parametrize(
    ("start", "n", "expected", "how"), WORKING_DAY_LIMITS, ids=[str(w[0]) for w in WORKING_DAY_LIMITS]
)
def test_hand_counted_working_day_limits(start: date, n: int, expected: date, how: str) -> None:
    assert default_calendar().add_workdays(start, n) == expected, how


@needs_estimate
def test_make_up_days_are_rest_days_and_named() -> None:
    cal = default_calendar()
    for day in (
        D(2027, 2, 9),
        D(2027, 2, 10),
        D(2027, 5, 3),
        D(2027, 5, 4),
        D(2027, 10, 4),
        D(2027, 10, 5),
        D(2028, 1, 3),
        D(2028, 5, 29),
        D(2028, 10, 4),
        D(2028, 10, 5),
    ):
        assert not cal.is_workday(day), day
        assert cal.holiday_name(day) == "法定节假日补假", day
    # A holiday on a weekday is not made up: the day after 端午 2027 (Wed 9 Jun) and after 中秋 2027 works.
    assert cal.is_workday(D(2027, 6, 10)) and cal.is_workday(D(2027, 9, 16))
    # 2028 春节 falls Tue–Fri: nothing to make up, Mon 31 Jan works.
    assert cal.is_workday(D(2028, 1, 31))
    # After the 2028 国庆 and its two make-up days, Fri 6 Oct works.
    assert cal.is_workday(D(2028, 10, 6))
