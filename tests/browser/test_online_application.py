"""Issue 21 "done when": a citizen applies online on a 390 px phone (no account) and gets the case number
and their code; the clerk sees the application among their reminders and accepts it on the case page."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from flows.towns import replace_towns
from models.case import Case
from models.db import session_scope, utcnow
from models.town import TownsIn
from tests.browser.test_phone_and_history import PHONE, UNLABELLED, WIDE
from tests.factories import PASSWORD, add_user, person_id

pytestmark = pytest.mark.browser


def test_apply_on_a_phone_then_the_clerk_accepts(engine, chromium, live_server, open_as) -> None:
    with session_scope(engine, write=True) as session:
        items = [{"name": "塘下镇", "villages": ["罗凤村"]}]
        replace_towns(
            session=session, data=TownsIn.model_validate({"items": items}), actor=None, now=utcnow()
        )
    add_user(engine, "clerk", "staff", display_name="陈晓")

    context = chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(f"{live_server}/login")
        page.click("text=网上申请调解")
        assert page.url.endswith("/apply")
        assert page.evaluate(UNLABELLED) == []
        assert page.evaluate(WIDE) == []
        page.fill("input[name=applicant_name]", "陈阿大")
        page.fill("input[name=applicant_id_number]", person_id(201))
        page.fill("input[name=applicant_phone]", "13905771234")
        page.fill("input[name=respondent_name]", "林小二")
        page.select_option("select[name=category]", "neighbor")
        page.select_option("select[name=town]", "塘下镇")
        page.fill("textarea[name=summary]", "两户因屋檐滴水和通道使用发生争执。")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
        assert "申请已提交" in text, text
        case_no = re.search(r"瑞调〔\d{4}〕\d{5}号", text)
        code = re.search(r"[0-9A-Z]{5}-[0-9A-Z]{5}", text)
        assert case_no and code, text
        assert page.evaluate(WIDE) == []
    finally:
        context.close()

    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.case_no == case_no.group(0))).one()
        assert (case.stage, case.channel) == ("registered", "online")
    clerk = open_as("clerk", PASSWORD)
    clerk.goto(f"{live_server}/workbench")
    assert case_no.group(0) in clerk.inner_text("body") and "网上申请" in clerk.inner_text("body")
    clerk.goto(f"{live_server}/cases/{case.id}")
    clerk.click("form[action$='/accept'] button[type=submit]")
    clerk.wait_for_load_state()
    with Session(engine) as session:
        assert session.get(Case, case.id).stage == "accepted"  # type: ignore[union-attr]
