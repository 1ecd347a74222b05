"""The 17-worker wage case from an unpaid 回访 to the 支付令 applications, in headless Chromium (issue 20).

History with an explicit clock (registered 10 days ago, signed 9 days ago, wages due 6 days ago), built
through the real actions as tests/browser/test_seventeen_workers.py does through the pages; then the
mediator on the case page: the 回访 that finds 工人16 paid 10,000 and the others nothing, the 履行保障
section offering the 17 terms, one click, 17 applications (each naming one worker), the ledger's steps,
and a phone-width page. Expectations counted by hand from the data built here."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, col, select

from models.agreement import AgreementTerm
from models.document import Document
from tests.factories import PASSWORD, add_user, expert_bank, person_id, wage_case
from tests.support.clock import CHINA, on
from tests.support.pdf import archived_path, pdf_compact
from tests.support.scenario import drive_to_signed

pytestmark = pytest.mark.browser

COMPANY = "瑞安市某建设有限公司"
WORKERS = [f"工人{i:02d}" for i in range(17)]


def test_from_an_unpaid_follow_up_to_seventeen_payment_orders(engine, live_server, open_as) -> None:
    bank = expert_bank(engine)
    clerk = add_user(engine, "clerk", "staff", display_name="陈晓")
    add_user(engine, "wangtj", "staff", expert_id=bank["mediator_yuhai"], display_name="王建国")
    today = datetime.now(CHINA).date()
    due = today - timedelta(days=6)
    body = wage_case()
    body["parties"][-1] |= {"legal_representative": "张建设", "legal_representative_title": "总经理"}
    terms = [
        {
            "obligor": COMPANY,
            "obligee": w,
            "obligation": "支付拖欠工资",
            "amount": Decimal("18000.00"),
            "due_date": due,
        }
        for w in WORKERS
    ]
    cid = drive_to_signed(
        engine,
        body,
        actor_id=clerk,
        lead_expert_id=bank["mediator_yuhai"],
        start=on(today - timedelta(days=10), 9),
        terms=terms,
        attendees=[*WORKERS, COMPANY],
    )
    with Session(engine) as session:
        term_of = {t.obligee: t.id for t in session.exec(select(AgreementTerm)).all()}

    page = open_as("wangtj", PASSWORD)
    page.goto(f"{live_server}/cases/{cid}#enforcement")
    section = page.locator("#enforcement")
    # Before any 回访 after the due date the terms are shown with the reason, and no button.
    assert "履行期限届满后尚无回访记录其未履行" in section.inner_text()
    assert not section.locator("#payment-order-form button").count()

    # --- 回访: 工人16 paid 10,000; the other sixteen nothing.
    visit = page.locator("#follow-up-form")
    visit.get_by_label("回访方式").select_option(label="电话回访")
    visit.get_by_label("被回访人").fill(WORKERS[0])
    for worker in WORKERS[:16]:
        visit.locator(f"select[name=term-{term_of[worker]}]").select_option(value="not_performed")
    visit.locator(f"input[name=paid-{term_of['工人16']}]").fill("10000.00")
    visit.get_by_label("当事人意见").fill("公司称资金周转困难，暂未支付")
    visit.locator("button[type=submit]").click()
    page.wait_for_url(f"**/cases/{cid}*")
    assert "回访已登记" in page.inner_text("#flash"), page.inner_text("body")[:800]

    # --- 履行保障: the 17 terms offered, checked; one click.
    form = page.locator("#payment-order-form")
    boxes = form.locator("input[name=term_ids]")
    assert boxes.count() == 17
    assert all(boxes.nth(i).is_checked() for i in range(17))
    assert "尚欠 8,000.00 元" in form.inner_text()  # 工人16: 18,000 − 10,000
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/cases/{cid}*")
    assert "已制作支付令申请书（所选17项，每名权利人一份）" in page.inner_text("#flash"), page.inner_text(
        "#flash"
    )

    # The relay issues them a moment later: 17 documents, each naming one worker and one ID number.
    for _ in range(120):
        with Session(engine) as session:
            docs = session.exec(
                select(Document)
                .where(Document.case_id == cid, Document.kind == "payment_order_application")
                .order_by(col(Document.id))
            ).all()
        if len(docs) == 17:
            break
        page.wait_for_timeout(1000)
    assert len(docs) == 17
    ids = {w: person_id(100 + i) for i, w in enumerate(WORKERS)}
    for doc in docs:
        text = pdf_compact(archived_path(doc))
        named = [w for w in WORKERS if w in text]
        assert len(named) == 1, named
        assert [w for w, i in ids.items() if i in text] == named
    page.goto(f"{live_server}/cases/{cid}")  # not the same URL with a hash: that would not reload
    assert page.inner_text("#documents").count("支付令申请书") == 17
    ledger = page.locator("#ledger").inner_text()
    assert ledger.count("已申请支付令") == 17
    # Applied once: the form now says so for each term, with no button.
    assert page.locator("#payment-order-form").inner_text().count(f"已于{today.isoformat()}申请支付令") == 17
    assert not page.locator("#payment-order-form button").count()

    # A phone (390 px) reads the section without a horizontal scroll of the page.
    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, width
