"""The case page offers a document's download only to readers who may download it: a leader sees the
parties masked, so the 申请书 and 人民调解协议书 (full ID numbers, phones, addresses) are no links for
them, while staff keep every link. The rule is models.access's; here it is checked from outside."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from models.document import Document
from tests.factories import wage_case
from tests.support.clock import at
from tests.support.scenario import Scenario


def _agreed_labor_case(engine, clerk: int, experts: dict[str, int]) -> int:
    s = Scenario(engine, clerk=clerk, experts=experts)
    s.registered(wage_case(claimants=3, headcount=3), now=at(2026, 11, 2, 9)).accepted(now=at(2026, 11, 3, 9))
    s.panel("mediator_yuhai", ("lawyer", "legal_advisor"), now=at(2026, 11, 4, 9))
    s.scheduled(at(2026, 11, 5, 14), duration_minutes=90)
    s.agreed(
        at(2026, 11, 5, 14),
        attendees=["工人00", "工人01", "工人02", "公司代表张经理"],
        notes="双方就欠薪数额和支付期限达成一致。",
    )
    terms = [
        {
            "obligor": "瑞安市某建设有限公司",
            "obligee": f"工人0{i}",
            "obligation": "支付拖欠工资",
            "amount": Decimal("12000.00"),
            "due_date": date(2026, 12, 15),
        }
        for i in range(3)
    ]
    s.issued(terms, method="银行转账至各申请人账户")
    return s.case


def _documents(engine, case_id: int) -> dict[str, int]:
    with Session(engine) as session:
        docs = session.exec(select(Document).where(Document.case_id == case_id)).all()
    return {d.kind: d.id for d in docs}


def _linked(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/documents/(\d+)/pdf"', html)}


def test_leader_has_no_link_to_the_application_or_agreement(engine, browser_for, users, experts) -> None:
    cid = _agreed_labor_case(engine, users["clerk"], experts)
    docs = _documents(engine, cid)
    assert {"application", "agreement", "acceptance_notice"} <= docs.keys(), docs
    personal = {docs["application"], docs["agreement"]}

    staff_page = browser_for("clerk").get(f"/cases/{cid}")
    assert staff_page.status_code == 200
    assert personal <= _linked(staff_page.text)  # staff download both
    assert 'id="agreement-pdf"' in staff_page.text

    director = browser_for("director")
    leader_page = director.get(f"/cases/{cid}")
    assert leader_page.status_code == 200
    linked = _linked(leader_page.text)
    assert not personal & linked, "a leader is offered a download that would be refused"
    assert docs["acceptance_notice"] in linked  # names only: still theirs to download
    assert 'id="agreement-pdf"' not in leader_page.text
    # The documents are still listed (by name), and the links left out are exactly the refused ones.
    assert 'data-kind="application" class="refused"' in leader_page.text
    for doc_id in personal:
        assert director.get(f"/documents/{doc_id}/pdf").status_code == 403
    assert director.get(f"/documents/{docs['acceptance_notice']}/pdf").status_code == 200
