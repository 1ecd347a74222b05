"""Admin-changeable limits take effect on the next action; a new year's holidays move deadlines."""

from __future__ import annotations

from tests.factories import neighbor_case


def test_settings_show_basis_and_change_thresholds(as_user):  # noqa: ANN001
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


def test_admin_loads_a_new_years_schedule(as_user):  # noqa: ANN001
    admin = as_user("admin")
    before = admin.get("/clocks/due", params={"clock": "labor", "start": "2027-01-20"}).json()
    assert before["estimated"] is True and before["due"] == "2027-02-04"
    bad = admin.put("/holidays/2027", {"text": "2027-02-04 holdiay"})
    assert bad.status_code == 422 and "第1行" in bad.json()["detail"][0]["msg"]
    text = "\n".join(f"2027-02-{d:02d} holiday 春节" for d in range(4, 12)) + "\n2027-02-13 workday 调休"
    assert admin.put("/holidays/2027", {"text": text}).status_code == 200
    after = admin.get("/clocks/due", params={"clock": "labor", "start": "2027-01-20"}).json()
    assert after["due"] == "2027-02-12" and after["estimated"] is False
