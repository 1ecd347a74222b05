"""Payments at a 回访 (CONTRACT v1.2): per money term the amount paid and the day; the case shows per
obligee what was agreed, paid and is still owed; the PDFs name the 权利人 on every row. The 17-worker
wage case, driven through the JSON API and the case page, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models.db import utcnow
from runtime.relay import drain
from tests.factories import wage_case
from tests.pages.conftest import csrf_of, login
from tests.support.clock import CHINA
from tests.support.pdf import archived_pdf_texts
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres

COMPANY = "瑞安市某建设有限公司"
WORKERS = [f"工人{i:02d}" for i in range(17)]
# Each worker's wage differs (18,000 + 100·i), so a payment booked on the wrong row shows.
WAGE = {w: Decimal(18000 + 100 * i) for i, w in enumerate(WORKERS)}
# By hand: 17 × 18,000 + 100 × (0 + 1 + … + 16) = 306,000 + 13,600.
TOTAL = Decimal("319600.00")


def _iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _today():
    return datetime.now(CHINA).date()


def _to_follow_up(engine, staff, users, experts) -> tuple[int, dict[str, int], int]:
    """The wage case, agreed and signed today: one money term per worker (seq 1–17) and the pay slip
    (seq 18, no amount). Returns the case id, each worker's term id, the slip's term id."""
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts)
    s.registered(wage_case()).accepted().panel("mediator_tangxia", "elder_tangxia")
    s.scheduled(utcnow() + timedelta(days=1))
    s.agreed(utcnow(), attendees=[*WORKERS, COMPANY], notes="达成一致。", now=utcnow())
    due = (_today() + timedelta(days=30)).isoformat()
    terms = [
        {
            "obligor": COMPANY,
            "obligee": w,
            "obligation": "支付拖欠工资",
            "amount": str(WAGE[w]),
            "due_date": due,
        }
        for w in WORKERS
    ] + [{"obligor": COMPANY, "obligee": "工人00", "obligation": "出具工资结算清单", "due_date": due}]
    s.issued(terms, now=utcnow(), method="银行转账", place="瑞安市").signed(now=utcnow())
    cid = s.case
    detail = staff.get(f"/cases/{cid}").json()
    ids = {t["obligee"]: t["id"] for t in detail["agreement"]["terms"] if t["amount"]}
    slip = next(t["id"] for t in detail["agreement"]["terms"] if t["amount"] is None)
    return cid, ids, slip


def _why(r) -> str:
    """The Chinese reason of a 422: a sentence, or each field's message."""
    detail = r.json()["detail"]
    return detail if isinstance(detail, str) else " ".join(e["msg"] for e in detail)


def _performance(staff, cid: int) -> dict[str, tuple[str, str, str]]:
    rows = staff.get(f"/cases/{cid}").json()["performance"]
    return {r["obligee"]: (r["amount"], r["paid"], r["outstanding"]) for r in rows}


def _first_visit(ids: dict[str, int], slip: int, today: str) -> dict:
    """Workers 00–14 paid in full (no state: it follows from the payment); 工人15 paid 10,000 of 19,500;
    工人16 nothing; the pay slip handed over."""
    terms = [{"term_id": ids[w], "paid_amount": str(WAGE[w]), "paid_on": today} for w in WORKERS[:15]]
    terms += [
        {"term_id": ids["工人15"], "paid_amount": "10000", "paid_on": today},
        {"term_id": ids["工人16"], "state": "not_performed"},
        {"term_id": slip, "state": "performed"},
    ]
    return {"visited_at": _iso(), "method": "phone", "visited_person": "工人00", "terms": terms}


def test_payments_settle_states_and_the_case_shows_what_is_owed(engine, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid, ids, slip = _to_follow_up(engine, staff, users, experts)
    today = _today().isoformat()
    before = _performance(staff, cid)
    assert before == {w: (f"{WAGE[w]}.00", "0.00", f"{WAGE[w]}.00") for w in WORKERS}

    r = staff.post(f"/cases/{cid}/follow-ups", _first_visit(ids, slip, today))
    assert r.status_code == 201, r.text
    states = {t["term_id"]: (t["state"], t["obligee"], t["paid_amount"]) for t in r.json()["terms"]}
    assert states[ids["工人03"]] == ("performed", "工人03", "18300.00")
    assert states[ids["工人15"]] == ("partly", "工人15", "10000.00")
    assert states[ids["工人16"]] == ("not_performed", "工人16", None)

    perf = _performance(staff, cid)
    assert perf["工人15"] == ("19500.00", "10000.00", "9500.00")
    assert perf["工人16"] == ("19600.00", "0.00", "19600.00")
    assert perf["工人07"] == ("18700.00", "18700.00", "0.00")
    assert sum(Decimal(a) for a, _, _ in perf.values()) == TOTAL
    # By hand: 319,600 − 19,500 − 19,600 + 10,000 paid; 9,500 + 19,600 owed.
    assert sum(Decimal(p) for _, p, _ in perf.values()) == Decimal("290500.00")
    assert sum(Decimal(o) for _, _, o in perf.values()) == Decimal("29100.00")
    detail = staff.get(f"/cases/{cid}").json()
    assert [t["seq"] for t in detail["still_due"]] == [16, 17]

    # 工人15 is owed 9,500.00: one cent more is refused, naming the term and its obligee; nothing changes.
    over = {"term_id": ids["工人15"], "paid_amount": "9500.01", "paid_on": today}
    r = staff.post(f"/cases/{cid}/follow-ups", {"terms": [over]})
    assert r.status_code == 422
    assert "第16项（权利人：工人15）" in _why(r) and "最多还可付9,500.00元" in _why(r)
    refusals = [
        (
            {"term_id": ids["工人16"], "paid_amount": "100", "paid_on": today, "state": "performed"},
            "部分履行",
        ),
        ({"term_id": ids["工人16"], "paid_amount": "100"}, "付款日期"),
        (
            {
                "term_id": ids["工人16"],
                "paid_amount": "100",
                "paid_on": (_today() + timedelta(days=1)).isoformat(),
            },
            "晚于今天",
        ),
        (
            {
                "term_id": ids["工人16"],
                "paid_amount": "100",
                "paid_on": (_today() - timedelta(days=1)).isoformat(),
            },
            "早于协议签署",
        ),
        ({"term_id": slip, "paid_amount": "100", "paid_on": today}, "不是给付金钱"),
        ({"term_id": ids["工人16"]}, "已付金额"),
    ]
    for term, reason in refusals:
        r = staff.post(f"/cases/{cid}/follow-ups", {"terms": [term]})
        assert r.status_code == 422, (term, r.text)
        assert reason in _why(r), (term, r.json())
    assert _performance(staff, cid) == perf
    assert len(staff.get(f"/cases/{cid}").json()["follow_ups"]) == 1

    # Second visit: 工人15's rest, told as partly (the user's word stands over a full payment); 工人16
    # found performed by a v1.1 body without an amount: the rest is recorded as paid that day.
    r = staff.post(
        f"/cases/{cid}/follow-ups",
        {
            "terms": [
                {"term_id": ids["工人15"], "paid_amount": "9500", "paid_on": today, "state": "partly"},
                {"term_id": ids["工人16"], "state": "performed"},
            ]
        },
    )
    assert r.status_code == 201, r.text
    states = {t["term_id"]: (t["state"], t["paid_amount"]) for t in r.json()["terms"]}
    assert states == {ids["工人15"]: ("partly", "9500.00"), ids["工人16"]: ("performed", "19600.00")}
    perf = _performance(staff, cid)
    assert perf["工人15"] == ("19500.00", "19500.00", "0.00")
    assert perf["工人16"] == ("19600.00", "19600.00", "0.00")
    assert sum(Decimal(p) for _, p, _ in perf.values()) == TOTAL
    assert [t["seq"] for t in staff.get(f"/cases/{cid}").json()["still_due"]] == [16]

    drain(engine)
    agreement_pdf = archived_pdf_texts(engine, cid, "agreement")[-1]
    for w in WORKERS:
        assert f"支付拖欠工资（权利人：{w}）" in agreement_pdf, w
    records = archived_pdf_texts(engine, cid, "follow_up_record")
    assert len(records) == 2
    first = records[0]
    # Every row: the 权利人's cell, then the term; the payment and what is still owed in 说明.
    for i, w in enumerate(WORKERS):
        assert f"{w}第{i + 1}项：{COMPANY}向{w}支付拖欠工资" in first, w
    assert f"工人00第18项：{COMPANY}向工人00出具" in first
    cn_day = f"{_today().year}年{_today().month}月{_today().day}日"
    assert f"{cn_day}付10,000.00元；累计已付10,000.00元，尚欠9,500.00元" in first
    assert "尚欠19,600.00元" not in first  # nothing paid, nothing to say yet
    assert f"{cn_day}付19,600.00元；累计已付19,600.00元，尚欠0.00元" in records[1]


def test_the_v10_body_still_closes_the_books(engine, as_user, users, experts) -> None:
    """`performed: true` (v1.0) on every open term: each money term is taken as paid in full."""
    staff = as_user("clerk")
    cid, _, _ = _to_follow_up(engine, staff, users, experts)
    r = staff.post(f"/cases/{cid}/follow-ups", {"performed": True, "notes": "已全部支付"})
    assert r.status_code == 201, r.text
    perf = _performance(staff, cid)
    assert all(o == "0.00" for _, _, o in perf.values())
    assert sum(Decimal(p) for _, p, _ in perf.values()) == TOTAL


def _section(page: str, element_id: str) -> str:
    match = re.search(rf'<table class="grid" id="{element_id}">(.*?)</table>', page, re.S)
    assert match, f"no #{element_id} on the case page"
    return match.group(1)


def _cells(row_html: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)
    ]


def test_the_case_page_records_payments_and_shows_each_obligee(
    engine, client, as_user, users, experts
) -> None:
    staff = as_user("clerk")
    cid, ids, slip = _to_follow_up(engine, staff, users, experts)
    today = _today().isoformat()
    assert login(client, "clerk").status_code == 303
    page = client.get(f"/cases/{cid}").text
    # The agreement table names the 权利人 on every row.
    agreement_rows = re.findall(r"<tr><td>(\d+)</td><td>" + COMPANY + r"</td><td>([^<]*)</td>", page)
    assert [(int(n), w) for n, w in agreement_rows] == [(i + 1, w) for i, w in enumerate(WORKERS)] + [
        (18, "工人00")
    ]

    form = {
        "csrf_token": csrf_of(page),
        "visited_at": datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M"),
        "method": "visit",
    }
    for w in WORKERS[:15]:
        form |= {f"term-{ids[w]}": "auto", f"paid-{ids[w]}": str(WAGE[w]), f"paid_on-{ids[w]}": today}
    form |= {
        f"term-{ids['工人15']}": "auto",
        f"paid-{ids['工人15']}": "10000",
        f"paid_on-{ids['工人15']}": today,
    }
    # 工人16: "auto" and no amount → not asked at this visit.
    form |= {f"term-{ids['工人16']}": "auto", f"paid-{ids['工人16']}": "", f"paid_on-{ids['工人16']}": today}
    form[f"term-{slip}"] = "performed"
    over = {**form, f"paid-{ids['工人15']}": "19500.01"}
    r = client.post(f"/cases/{cid}/follow-ups", data=over, follow_redirects=True)
    assert "第16项（权利人：工人15）累计已付金额不能超过约定金额19,500.00元" in r.text
    assert 'id="performance"' in r.text and _performance(staff, cid)["工人15"][1] == "0.00"

    r = client.post(f"/cases/{cid}/follow-ups", data=form, follow_redirects=True)
    assert r.status_code == 200 and "回访已登记" in r.text
    rows = [_cells(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", _section(r.text, "performance"), re.S)]
    by_obligee = {row[0]: row[1:] for row in rows[1:-1]}
    assert len(by_obligee) == 17
    assert by_obligee["工人15"] == ["第16项", "19,500.00", "10,000.00", "9,500.00"]
    assert by_obligee["工人16"] == ["第17项", "19,600.00", "0.00", "19,600.00"]
    assert by_obligee["工人00"] == ["第1项", "18,000.00", "18,000.00", "0.00"]
    assert rows[-1] == ["合计（17名权利人，2名尚欠）", "319,600.00", "290,500.00", "29,100.00"]
    assert _performance(staff, cid)["工人16"] == ("19600.00", "0.00", "19600.00")
    states = {t["term_id"]: t["state"] for t in staff.get(f"/cases/{cid}").json()["follow_ups"][-1]["terms"]}
    assert (
        ids["工人16"] not in states
        and states[ids["工人15"]] == "partly"
        and states[ids["工人00"]] == "performed"
    )
