"""Admin-changeable limits take effect on the next action; a new year's holidays move deadlines."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from tests.factories import neighbor_case


def test_settings_show_basis_and_change_thresholds(as_user):
    admin = as_user("admin")
    listed = admin.get("/settings").json()
    labor = next(c for c in listed["clocks"] if c["clock"] == "labor")
    assert labor["amount"] == 15 and "第十四条" in labor["basis"]
    assert as_user("clerk").put("/settings/mass_headcount", {"value": 2}).status_code == 403
    r = admin.put("/settings/mass_headcount", {"value": 0})
    assert r.status_code == 422 and "之间" in r.json()["detail"][0]["msg"]
    assert admin.put("/settings/mass_headcount", {"value": 2}).status_code == 200
    assert as_user("clerk").post("/cases", neighbor_case()).json()["is_mass"] is False
    case = as_user("clerk").post("/cases", neighbor_case(headcount=2)).json()
    assert case["is_mass"] is True  # two people on one side now count as 群体性


def test_admin_loads_a_new_years_schedule(as_user):
    # A year chinese-calendar does not ship (past its last one), so the holidays there are estimated.
    y = max(d.year for d in (*chinese_calendar.holidays, *chinese_calendar.workdays)) + 2
    admin = as_user("admin")
    # 20 Jan + 15 days = 4 Feb; estimated with weekends only (no fixed holiday falls in early February).
    nominal = date(y, 2, 4)
    before = admin.get("/clocks/due", params={"clock": "labor", "start": f"{y}-01-20"}).json()
    assert before["estimated"] is True and before["due"] == _next_weekday(nominal).isoformat()
    bad = admin.put(f"/holidays/{y}", {"text": f"{y}-02-04 holdiay"})
    assert bad.status_code == 422 and "第1行" in bad.json()["detail"][0]["msg"]
    # 春节 4–11 Feb, and the first weekend day from 12 Feb made a working day (调休).
    tiaoxiu = date(y, 2, 12)
    while tiaoxiu.weekday() < 5:
        tiaoxiu += timedelta(days=1)
    text = "\n".join(f"{y}-02-{d:02d} holiday 春节" for d in range(4, 12)) + f"\n{tiaoxiu} workday 调休"
    assert admin.put(f"/holidays/{y}", {"text": text}).status_code == 200
    after = admin.get("/clocks/due", params={"clock": "labor", "start": f"{y}-01-20"}).json()
    expected = min(_next_weekday(date(y, 2, 12)), tiaoxiu)
    assert after["due"] == expected.isoformat() and after["estimated"] is False


def _next_weekday(d: date) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d
