"""The justice bureau's side (issue 22 points 2–5, CONTRACT v1.2): a reviewer draws a quarter's sample
with a fixed seed, scores it and writes findings the center answers; 以案定补 is paid only after each
level approved in turn and never while a failed review's findings are open; the statistics XLSX equals
the figures counted by hand from the cases built here; a reviewer writes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import itertools
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func
from sqlmodel import Session, select

from flows.process import apply_transition
from models.audit import AuditEvent
from models.case import Case
from models.db import session_scope, utcnow
from models.user import User
from tests.factories import add_user, neighbor_case, person_id, register, wage_case
from tests.pages.conftest import csrf_of, login
from tests.support.clock import CHINA, at
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres

TANGXIA, YUHAI = "塘下镇", "玉海街道"


def _iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _today() -> str:
    return datetime.now(CHINA).date().isoformat()


def _walk(engine, case_id: int, actor: int, steps: list[str], at: datetime, step=timedelta(hours=3)) -> None:
    for name in steps:
        at += step
        with session_scope(engine, write=True) as s:
            apply_transition(s, s.get(Case, case_id), name, actor=s.get(User, actor), now=at)


AGREED = ["accept", "form_panel", "start_mediation", "agree", "sign", "close"]
FAILED = ["accept", "form_panel", "start_mediation", "fail", "close"]
WITHDRAWN = ["accept", "form_panel", "withdraw", "close"]


def _reviewers(engine) -> None:
    from flows.towns import replace_towns
    from models.db import utcnow
    from models.town import TownsIn

    with session_scope(engine, write=True) as session:
        items = [{"name": YUHAI, "villages": ["滨江社区"]}, {"name": TANGXIA, "villages": ["罗凤村"]}]
        replace_towns(
            session=session, data=TownsIn.model_validate({"items": items}), actor=None, now=utcnow()
        )
    add_user(engine, "county", "reviewer", display_name="赵评查")
    add_user(engine, "tangxia_sfs", "reviewer", town=TANGXIA, display_name="钱司法")
    add_user(engine, "yuhai_sfs", "reviewer", town=YUHAI, display_name="孙司法")


# --- 评查: a quarter's sample -------------------------------------------------------------------------


def test_a_quarter_sampled_with_a_fixed_seed(engine, as_user, users) -> None:
    """Q3 2026 (1 Jul – 30 Sep, China time): 23 cases closed inside it, one closed on 30 Jun at 23:50 and
    one on 1 Oct at 00:20 (outside), one still open. 10% of 23 is 2.3: three cases, all of the 23."""
    _reviewers(engine)
    clerk = users["clerk"]
    inside, outside = [], []
    for i in range(23):
        start = at(2026, 7, 1, 8) + timedelta(days=3 * i)
        body = neighbor_case(town=TANGXIA) if i % 2 else neighbor_case(town=YUHAI, village="滨江社区")
        body["parties"][0]["id_number"] = person_id(300 + i)
        cid = register(engine, body, actor_id=clerk, now=start)
        _walk(engine, cid, clerk, FAILED if i % 3 else AGREED, start)
        inside.append(cid)
    # Closed (the last step) 15 h after registration: 30 Jun 08:50 → 23:50, 1 Oct 09:20 → next day 00:20.
    for start in (at(2026, 6, 30, 8, 50), at(2026, 9, 30, 9, 20)):
        cid = register(engine, neighbor_case(), actor_id=clerk, now=start)
        _walk(engine, cid, clerk, FAILED, start)
        outside.append(cid)
    open_case = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 8, 3, 9))
    with Session(engine) as s:
        closed = {c.id: c.closed_at.astimezone(CHINA) for c in s.exec(select(Case)).all() if c.closed_at}
    assert closed[outside[0]].date().isoformat() == "2026-06-30"
    assert closed[outside[1]].date().isoformat() == "2026-10-01"

    county = as_user("county")
    body = {"from": "2026-07-01", "to": "2026-09-30", "ratio": 0.1, "seed": "2026Q3"}
    r = county.post("/reviews/samples", body)
    assert r.status_code == 201, r.text
    sample = r.json()
    assert sample["population"] == 23
    drawn = [item["case_id"] for item in sample["reviews"]]
    assert len(drawn) == math.ceil(23 * 0.1) == 3
    assert set(drawn) <= set(inside) and open_case not in drawn
    # Repeatable: the same cases, ratio and seed draw the same cases (random.Random over the ids in order).
    assert drawn == sorted(random.Random("2026Q3").sample(sorted(inside), 3))
    again = county.post("/reviews/samples", body).json()
    assert [item["case_id"] for item in again["reviews"]] == drawn

    # A 司法所 draws from its own town only: 11 of the 23 are 塘下镇's (odd i), 10% → 2.
    r = as_user("tangxia_sfs").post("/reviews/samples", {**body, "seed": "x"})
    assert r.status_code == 201, r.text
    assert r.json()["population"] == 11 and len(r.json()["reviews"]) == 2
    # A tiny sample still draws one case; a ratio past 1 or an inverted period is refused in Chinese.
    r = county.post("/reviews/samples", {**body, "ratio": 0.001})
    assert len(r.json()["reviews"]) == 1
    for bad in ({**body, "ratio": 1.5}, {**body, "from": "2026-10-01"}):
        r = county.post("/reviews/samples", bad)
        assert r.status_code == 422, r.text
    # Only a reviewer draws.
    assert as_user("clerk").post("/reviews/samples", body).status_code == 403


# --- A case through the API, agreed and closed ----------------------------------------------------------


_SLOTS = itertools.count()


def _closed_agreed(engine, staff, users, experts, *, amount: str, satisfaction: str, body: dict) -> int:
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts)
    s.registered(body).accepted().panel("mediator_tangxia", "elder_tangxia")
    # Each case its own slot: the panel and the room may not be double-booked.
    slot = next(_SLOTS)
    s.scheduled(utcnow() + timedelta(days=1, hours=3 * slot), location=f"{slot + 1}号调解室")
    names = [p["name"] for p in body["parties"]]
    s.agreed(utcnow(), attendees=names, notes="达成一致。", now=utcnow())
    term = {
        "obligor": names[1],
        "obligee": names[0],
        "obligation": "赔偿损失",
        "amount": amount,
        "due_date": _today(),
    }
    s.issued([term], now=utcnow(), method="现金", place="瑞安市").signed(now=utcnow())
    cid = s.case
    term_id = staff.get(f"/cases/{cid}").json()["agreement"]["terms"][0]["id"]
    visit = {
        "visited_at": _iso(),
        "method": "phone",
        "terms": [{"term_id": term_id, "state": "performed"}],
        "satisfaction": satisfaction,
    }
    r = staff.post(f"/cases/{cid}/follow-ups", visit)
    assert r.status_code == 201, r.text
    assert r.json()["satisfaction"] == satisfaction and r.json()["satisfaction_label"]
    r = staff.post(f"/cases/{cid}/close", {"kind": "performed"})
    assert r.status_code == 200 and r.json()["stage"] == "closed", r.text
    return cid


def _month() -> str:
    return datetime.now(CHINA).strftime("%Y-%m")


def test_subsidy_paid_after_each_level_and_not_while_a_failed_review_is_open(
    engine, as_user, users, experts
) -> None:
    _reviewers(engine)
    staff, director = as_user("clerk"), as_user("director")
    county, tangxia, yuhai = as_user("county"), as_user("tangxia_sfs"), as_user("yuhai_sfs")
    first = _closed_agreed(
        engine, staff, users, experts, amount="5000.00", satisfaction="4", body=neighbor_case()
    )
    second_body = neighbor_case(category="contract")
    second_body["parties"][0]["id_number"] = person_id(401)
    second = _closed_agreed(
        engine, staff, users, experts, amount="12000.50", satisfaction="1", body=second_body
    )

    # The proposal: one session, a written agreement, 12,000.50 元 ≥ 10,000 → 一般 (ordinary); the center
    # sets 重大 on the first instead, whose amount is the setting's 1,000 元.
    r = staff.put(f"/cases/{first}/subsidy", {"grade": "major"})
    assert r.status_code == 200, r.text
    s1 = r.json()
    assert (s1["proposed_grade"], s1["grade"], s1["amount"]) == ("ordinary", "major", "1000.00")
    assert s1["mediator"] == "李调解" and s1["status"] == "graded" and not s1["payable"]
    s2 = staff.put(f"/cases/{second}/subsidy", {}).json()
    assert (s2["grade"], s2["amount"]) == ("ordinary", "500.00")

    # In turn: the 司法局 and the 司法所 before the center are a 409 naming the level awaited.
    for who in (county, tangxia):
        r = who.post(f"/subsidies/{s1['id']}/approve")
        assert r.status_code == 409 and "待调解中心审核" in r.json()["detail"], r.text
    assert staff.post(f"/subsidies/{s1['id']}/approve").status_code == 403  # staff: no approval level
    assert director.post(f"/subsidies/{s1['id']}/approve").json()["status"] == "center_approved"
    assert director.post(f"/subsidies/{s1['id']}/approve").status_code == 409  # not twice
    # Another town's 司法所 does not even see the case (404); the county waits for 塘下镇.
    assert yuhai.post(f"/subsidies/{s1['id']}/approve").status_code == 404
    assert county.post(f"/subsidies/{s1['id']}/approve").status_code == 409
    assert tangxia.post(f"/subsidies/{s1['id']}/approve").json()["status"] == "town_approved"
    r = county.post(f"/subsidies/{s1['id']}/approve")
    assert r.json()["status"] == "county_approved" and r.json()["payable"], r.text
    assert [a["level"] for a in r.json()["approvals"]] == ["center", "town", "county"]
    assert staff.put(f"/cases/{first}/subsidy", {"grade": "simple"}).status_code == 409  # graded for good

    # A failed review of the second case (total 7 × 4 = 28 < 42, with a finding) stops its subsidy.
    sample = county.post(
        "/reviews/samples", {"from": _today(), "to": _today(), "ratio": 1, "seed": "s"}
    ).json()
    review = next(r for r in sample["reviews"] if r["case_id"] == second)
    scores = dict.fromkeys(
        ("acceptance", "procedure", "documents", "agreement", "dossier", "follow_up", "satisfaction"), 4
    )
    r = county.post(f"/reviews/{review['id']}/scores", {"scores": scores})
    assert r.status_code == 422 and "请写明发现的问题" in r.text  # a failure the center can answer
    r = county.post(
        f"/reviews/{review['id']}/scores",
        {"scores": scores, "note": "文书不全", "findings": ["缺少当事人身份证明"]},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["total"], r.json()["status"]) == (28, "failed")
    finding = r.json()["findings"][0]
    r = director.post(f"/subsidies/{s2['id']}/approve")
    assert r.status_code == 409 and "评查不合格" in r.json()["detail"], r.text
    listed = staff.get("/subsidies", params={"month": _month()}).json()
    row = next(i for i in listed["items"] if i["id"] == s2["id"])
    assert row["exclusions"] and not row["payable"]

    # The center answers on the case; the review is put right (已整改) and the levels go on.
    assert (
        county.post(f"/cases/{second}/review-findings/{finding['id']}/answer", {"answer": "x"}).status_code
        == 403
    )
    r = staff.post(
        f"/cases/{second}/review-findings/{finding['id']}/answer", {"answer": "已补充身份证复印件"}
    )
    assert r.status_code == 200 and r.json()["answered_by"] == "蔡受理", r.text
    assert county.get("/reviews", params={"sample_id": sample["id"]}).json()["items"][-1]["status"] in (
        "rectified",
        "pending",
    )
    statuses = {
        i["case_id"]: i["status"]
        for i in county.get("/reviews", params={"sample_id": sample["id"]}).json()["items"]
    }
    assert statuses[second] == "rectified"
    for who in (director, tangxia, county):
        assert who.post(f"/subsidies/{s2['id']}/approve").status_code == 200

    # The month per mediator: both cases 李调解's, 1,000 + 500 payable.
    listed = county.get("/subsidies", params={"month": _month()}).json()
    assert listed["mediators"] == [
        {"mediator": "李调解", "cases": 2, "payable_cases": 2, "amount": "1500.00"}
    ]
    r = county.get("/subsidies.xlsx", params={"month": _month()})
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[2][:7] == ("调解员", "案号", "镇街", "纠纷类型", "建议档次", "核定档次", "补贴金额（元）")
    body = [row for row in rows[3:] if row[1]]
    assert sorted((row[5], row[6], row[9]) for row in body) == [("一般", 500, "是"), ("重大", 1000, "是")]
    assert rows[-1][0] == "合计（可发放）" and rows[-1][6] == 1500
    assert staff.get("/subsidies", params={"month": "2026-13"}).status_code == 422


# --- Statistics -------------------------------------------------------------------------------------------


def test_statistics_xlsx_equals_the_hand_count(engine, as_user, users, experts, app) -> None:
    _reviewers(engine)
    staff, clerk = as_user("clerk"), users["clerk"]
    # Registered today (China time) whatever the hour the test runs: from 00:01, a minute per step.
    now = datetime.now(CHINA)
    early = now.replace(hour=0, minute=1, second=0, microsecond=0)
    minute = timedelta(minutes=1)
    # 1, 2: agreed through the API (neighbor 5,000 元 very satisfied; contract 12,000.50 元 dissatisfied).
    _closed_agreed(engine, staff, users, experts, amount="5000.00", satisfaction="4", body=neighbor_case())
    contract = neighbor_case(category="contract", channel="walk_in")
    contract["parties"][0]["id_number"] = person_id(402)
    _closed_agreed(engine, staff, users, experts, amount="12000.50", satisfaction="1", body=contract)
    # 3: a mass wage dispute (6 workers ≥ 5 on one side) that failed; 4: withdrawn; 5: only registered.
    mass = register(
        engine,
        wage_case(claimants=6, town=TANGXIA, village="罗凤村"),
        actor_id=clerk,
        now=early,
    )
    _walk(engine, mass, clerk, FAILED, early, minute)
    withdrawn = register(engine, neighbor_case(channel="walk_in"), actor_id=clerk, now=early)
    _walk(engine, withdrawn, clerk, WITHDRAWN, early, minute)
    register(engine, neighbor_case(), actor_id=clerk, now=early)
    # 6: a threat of violence (recorded 极高) settled: 防止民转刑; no written agreement, no amount.
    threat = neighbor_case(summary="邻里争执，一方扬言持刀报复。")
    threat_id = register(engine, threat, actor_id=clerk, now=early)
    _walk(engine, threat_id, clerk, AGREED, early, minute)
    # 7: in 玉海街道, last year: outside the period and the town.
    register(
        engine, neighbor_case(town=YUHAI, village="滨江社区"), actor_id=clerk, now=now - timedelta(days=400)
    )
    with Session(engine) as s:
        assert s.get(Case, mass).is_mass and s.get(Case, threat_id).risk_level == "critical"

    # By hand, registered today in 塘下镇: 6 received; accepted: 1, 2, 3, 4, 6 = 5; succeeded 1, 2, 6 = 3;
    # not 3, 4 = 2 → 60%; amounts 5,000 + 12,000.50; mass 1; 民转刑 prevented 1; answered 2, satisfied 1.
    r = as_user("tangxia_sfs").get("/reports/statistics", params={"from": _today(), "to": _today()})
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    by_category = list(wb["按纠纷类型"].iter_rows(values_only=True))
    assert "塘下镇" in by_category[1][0]
    total = by_category[-1]
    assert total[0] == "合计"
    assert total[1:] == (6, 5, 3, 2, 0.6, 17000.5, 1, 1, 2, 0.5)
    rows = {row[0]: row[1:] for row in by_category[3:-1]}
    assert rows["合同纠纷"] == (1, 1, 1, 0, 1.0, 12000.5, 0, 0, 1, 0.0)
    assert rows["邻里纠纷"][:3] == (4, 3, 2)
    assert rows["劳动争议"][:7] == (1, 1, 0, 1, 0.0, 0, 1)
    channels = {row[0]: row[1] for row in list(wb["按来源渠道"].iter_rows(values_only=True))[3:-1]}
    # 来访: the contract, wage and withdrawn cases; 网格上报: the other three (factories' default).
    assert channels["来访"] == 3 and channels["网格上报"] == 3 and sum(channels.values()) == 6
    satisfaction = {row[0]: row[1] for row in list(wb["当事人满意度"].iter_rows(values_only=True))[3:]}
    assert satisfaction["非常满意"] == 1 and satisfaction["不满意"] == 1 and satisfaction["满意"] == 0

    # The 玉海街道 司法所 counts none of them; asking for another town is refused.
    other = as_user("yuhai_sfs")
    r = other.get("/reports/statistics", params={"from": _today(), "to": _today()})
    assert list(load_workbook(io.BytesIO(r.content))["按纠纷类型"].iter_rows(values_only=True))[-1][1] == 0
    r = other.get("/reports/statistics", params={"from": _today(), "to": _today(), "town": TANGXIA})
    assert r.status_code == 403 and "本镇街" in r.json()["detail"]
    assert staff.get("/reports/statistics", params={"from": _today(), "to": "2020-01-01"}).status_code == 422
    assert (
        as_user("zhoulawyer")
        .get("/reports/statistics", params={"from": _today(), "to": _today()})
        .status_code
        == 403
    )

    # The same rules on the pages: the director's dashboard (this month, SQL) and the scorecard
    # (李调解 presided over the two API cases, both agreed; one very satisfied, one not).
    from fastapi.testclient import TestClient

    with TestClient(app) as browser:
        assert login(browser, "director").status_code == 303
        section = browser.get("/dashboard").text.split('id="quality"')[1].split("</section>")[0]
        quality = " ".join(section.split())
        assert "本月登记 6 件" in quality, quality
        assert "调解成功率 <b>60.0%</b>" in quality and "满意率 <b>50.0%</b>（回访答复 2 件）" in quality
        page = browser.get("/statistics", params={"from": _today(), "to": _today(), "town": TANGXIA}).text
        card = page.split('id="scorecard"')[1]
        assert "<td>李调解</td><td>2</td><td>100.0%</td>" in card and "<td>50.0%</td>" in card


# --- A reviewer reads but never writes ----------------------------------------------------------------------


def test_reviewer_reads_its_scope_and_writes_nothing(engine, as_user, users, app) -> None:
    from fastapi.testclient import TestClient

    _reviewers(engine)
    clerk = users["clerk"]
    here = register(engine, neighbor_case(), actor_id=clerk, now=datetime.now(CHINA) - timedelta(hours=1))
    there = register(
        engine,
        neighbor_case(town=YUHAI, village="滨江社区"),
        actor_id=clerk,
        now=datetime.now(CHINA) - timedelta(hours=1),
    )
    sfs, county = as_user("tangxia_sfs"), as_user("county")
    assert sfs.get(f"/cases/{here}").status_code == 200
    assert sfs.get(f"/cases/{there}").status_code == 404
    assert county.get(f"/cases/{there}").status_code == 200
    # Personal data masked for the bureau.
    assert person_id(201) not in county.get(f"/cases/{here}").text
    with Session(engine) as s:
        before = s.exec(select(func.count()).select_from(AuditEvent)).one()
    refusals = [
        county.post(f"/cases/{here}/accept", {}),
        county.post(f"/cases/{here}/reject", {"reason": "不属于调解范围"}),
        county.post("/cases", neighbor_case()),
        county.post(f"/cases/{here}/close", {"kind": "withdrawn"}),
        county.put(f"/cases/{here}/subsidy", {}),
    ]
    for r in refusals:
        assert r.status_code == 403 and "无权" in r.json()["detail"], r.text
    # The pages: the case page shows no action form, a posted form is refused in Chinese.
    with TestClient(app) as browser:
        assert login(browser, "county").status_code == 303
        page = browser.get(f"/cases/{here}")
        assert page.status_code == 200 and 'action="/cases/' + str(here) + '/accept"' not in page.text
        token = csrf_of(page.text)
        r = browser.post(f"/cases/{here}/accept", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403 and "无权" in r.text
        assert browser.get("/reviews").status_code == 200
        assert browser.get("/workbench").status_code == 403
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(AuditEvent)).one() == before
        assert s.get(Case, here).stage == "registered"
