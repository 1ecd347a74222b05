"""送达 in headless Chromium: staff open the case page, record in one click that the 受理通知书 reached the
applicant (本人签收), and open the 送达回证 PDF, which names the document, the party, the method, the date
and the signer (issue 19 point 4)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from sqlmodel import Session, select

from flows import intake
from models.action_context import ActionContext
from models.db import session_scope, utcnow
from models.delivery import Delivery
from models.schemas import CaseAction, CaseCreate
from models.user import User
from tests.factories import PASSWORD, add_user, neighbor_case
from tests.support.clock import CHINA
from tests.support.pdf import pdf_compact

pytestmark = pytest.mark.browser


def _wait_for(engine, case_id: int, count: int) -> None:
    """The embedded relay issues the notices after the action; wait for their delivery records."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with Session(engine) as session:
            if len(session.exec(select(Delivery.id).where(Delivery.case_id == case_id)).all()) >= count:
                return
        time.sleep(1)
    raise AssertionError("the notices were not issued")


def test_staff_record_a_delivery_and_open_the_receipt(engine, live_server, open_as) -> None:
    add_user(engine, "clerk", "staff", display_name="蔡受理")
    with session_scope(engine, write=True) as session:
        clerk = session.exec(select(User).where(User.username == "clerk")).one()
        case = intake.register_case(
            session=session, data=CaseCreate.model_validate(neighbor_case()), actor=clerk, now=utcnow()
        )
        session.flush()
        intake.accept_case(CaseAction(), ActionContext(session, case, clerk, utcnow()))
        case_id = case.id
    from runtime.relay import after_commit

    after_commit()
    # 受理通知书 to 陈阿大, 征询意见 to 林小二.
    _wait_for(engine, case_id, 2)

    page = open_as("clerk", PASSWORD)
    page.goto(f"{live_server}/cases/{case_id}")
    row = page.locator("#deliveries tr", has_text="受理通知书").filter(has_text="陈阿大")
    assert "待送达" in row.inner_text()
    row.locator("summary:has-text('记录送达')").click()
    today = datetime.now(CHINA).date()
    assert row.locator("input[name=delivered_at]").input_value() == today.isoformat()
    row.locator("button:has-text('已送达（本人签收）')").click()
    page.wait_for_url(f"**/cases/{case_id}*")
    assert "已记录送达" in page.inner_text(".flash")

    # The 送达回证 is issued by the relay: the link appears once it is archived.
    link = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        row = page.locator("#deliveries tr", has_text="受理通知书").filter(has_text="陈阿大")
        if row.locator("a[data-kind=delivery_receipt]").count():
            link = row.locator("a[data-kind=delivery_receipt]").get_attribute("href")
            break
        time.sleep(2)
        page.reload()
    assert link, "no 送达回证 link"
    assert "已送达" in row.inner_text() and "陈阿大（受送达人本人）" in row.inner_text()
    pdf = page.request.get(f"{live_server}{link}")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    text = pdf_compact(pdf.body())
    assert "送达回证" in text and "送达文书受理通知书" in text
    assert "受送达人申请人陈阿大" in text and "送达方式直接送达" in text
    assert f"签收日期{today.year}年{today.month}月{today.day}日" in text
    assert "签收人陈阿大（受送达人本人）" in text and "送达人蔡受理" in text

    # On a phone the 送达 table scrolls inside its own box; the page never scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("#deliveries summary:has-text('记录送达')").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
