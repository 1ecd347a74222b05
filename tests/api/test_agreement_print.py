"""Issue 19 point 5, the print: a v1.0 agreement body without `performance_place` is accepted and the money
term prints the place 民法典 第511条第（三）项 supplies; /verify calls an unsigned agreement print
未签署打印稿 until it is signed; the respondent's 回执 is its own page, apart from the seal; the chart
counts cases in whole numbers. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

import pytest

from documents.chart import bar_chart_svg
from runtime.relay import drain
from tests.api.test_case_guards import COMPANY, _iso, _record, _to_agreed
from tests.factories import wage_case
from tests.pages.test_history_and_errors import BROWSER
from tests.support.clock import CHINA
from tests.support.pdf import archived_documents, archived_path, archived_pdf_texts, compact, pdf_pages

pytestmark = pytest.mark.postgres


def _pages(engine, case_id: int, kind: str) -> list[str]:
    """The text of each page of the case's first `kind` PDF, whitespace removed."""
    docs = archived_documents(engine, case_id, kind)
    assert docs, kind
    return [compact(page) for page in pdf_pages(archived_path(docs[0]))]


def test_a_money_term_without_a_place_prints_the_obligees_place_and_verify_marks_the_unsigned_print(
    engine,
    users,
    as_user,
    experts,
    client,
) -> None:
    staff, anonymous = as_user("clerk"), client
    cid, sid = _to_agreed(engine, users, experts)
    assert _record(staff, cid, sid, _iso()).status_code == 200
    due = (datetime.now(CHINA).date() + timedelta(days=30)).isoformat()
    # A v1.0 body: no performance_place.
    term = {"obligor": COMPANY, "obligee": "工人01", "obligation": "支付拖欠工资", "amount": "18100.00"}
    r = staff.post(
        f"/cases/{cid}/agreement", {"terms": [{**term, "due_date": due}], "performance_method": "银行转账"}
    )
    assert r.status_code == 201, r.text
    drain(engine)
    (text,) = archived_pdf_texts(engine, cid, "agreement")
    # 民法典 第511条第（三）项: 给付货币的，在接受货币一方所在地履行 — the obligee here is 工人01.
    assert "工人01（接受货币一方）所在地" in text and "第五百一十一条" in text

    doc = next(d for d in staff.get(f"/cases/{cid}/documents").json() if d["kind"] == "agreement")
    page = anonymous.get(f"/verify/{doc['verify_code']}", headers={"Accept": BROWSER}).text
    assert "未签署打印稿" in page and "文书真实有效" not in page
    assert anonymous.get(f"/verify/{doc['sha256']}", headers={"Accept": "application/json"}).json()["draft"]

    assert staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()}).status_code == 200
    page = anonymous.get(f"/verify/{doc['verify_code']}", headers={"Accept": BROWSER}).text
    assert "文书真实有效" in page and "未签署打印稿" not in page


def test_the_respondents_reply_slip_is_a_page_of_its_own(engine, as_user) -> None:
    staff = as_user("clerk")
    r = staff.post("/cases", wage_case(claimants=2))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    drain(engine)
    pages = _pages(engine, cid, "respondent_notice")
    slips = [p for p in pages if "回执（是否同意调解）" in p]
    assert len(slips) == 1 and len(pages) >= 2
    (slip,) = slips
    assert "印章）" not in slip  # the seal stays with the notice; the slip is torn off and returned
    assert any("印章）" in p for p in pages if p is not slip)


def test_the_chart_counts_cases_in_whole_numbers() -> None:
    for peak in (1, 3, 5, 7, 13):
        svg = str(bar_chart_svg([{"label": "玉海街道", "n": peak}], series=[("n", "件数")]))
        ticks = [int(v) for v in re.findall(r'text-anchor="end"[^>]*>([^<]+)<', svg)]
        assert ticks[0] == 0 and ticks[-1] >= peak, (peak, ticks)
        steps = {b - a for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1 and steps.pop() >= 1, (peak, ticks)  # equal whole steps, never 1.25
