"""On a 390×844 phone (the demo's data, each page as the role that uses it): no page scrolls sideways,
every control has a label, the first Tab lands on the skip link; and the case's 办理记录 reads as
sentences naming people, with no internal code in it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from models.audit import AuditEvent
from models.case import Case
from models.expert import PanelMember
from models.mediation_session import MediationSession
from models.party import Party
from models.user import User
from ops.demo import load_demo
from tests.browser.test_browser import shot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# Controls a person fills in, without any of the three ways to name them.
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.getAttribute('aria-label')
                  || el.closest('label')
                  || (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]'))))
  .map(el => el.outerHTML.slice(0, 160))"""
# What sticks out past the right edge (to say which element broke the layout when the test fails).
WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                && !el.closest('.table-wrap, table.grid'))
  .slice(0, 8)
  .map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))"""


def _demo(engine) -> dict[str, str]:
    """The demo world; its one-time passwords as printed by `tiaojie init --demo`."""
    passwords = {}
    for line in load_demo(engine):
        bits = line.split()
        if line.startswith("  ") and len(bits) >= 3:
            passwords[bits[0]] = bits[1]
    assert {"clerk", "director"} <= set(passwords)
    return passwords


def _busiest_case(engine) -> int:
    """A case with parties, a panel and held sessions: the longest case page of the demo."""
    with Session(engine) as session:
        with_all = (
            select(Case.id)
            .where(
                col(Case.id).in_(select(Party.case_id)),
                col(Case.id).in_(select(PanelMember.case_id)),
                col(Case.id).in_(
                    select(MediationSession.case_id).where(col(MediationSession.recorded_at).is_not(None))
                ),
            )
            .subquery()
        )
        row = session.exec(
            select(AuditEvent.case_id, func.count())
            .where(col(AuditEvent.case_id).in_(select(with_all.c.id)))
            .group_by(AuditEvent.case_id)
            .order_by(func.count().desc())
        ).first()
    assert row is not None, "the demo has no case with parties, panel and sessions"
    return row[0]


def _phone_page(chromium, live_server: str, username: str, password: str):
    context = chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]
    return context, page


def _check_phone_page(page, url: str, name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (name, width, page.evaluate(WIDE))
    assert page.evaluate(UNLABELLED) == [], name
    # The first Tab from the top of the page reaches the skip link, which leads to the content.
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.textContent]")
    assert focused == ["skip-link", "跳至正文"], (name, focused)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main", name
    shot(page, f"phone-{name}")


def test_five_pages_fit_a_390px_phone_and_the_history_reads_as_sentences(
    engine, live_server, chromium
) -> None:
    passwords = _demo(engine)
    case_id = _busiest_case(engine)
    with Session(engine) as session:
        names = {u.display_name for u in session.exec(select(User)).all()}

    context, page = _phone_page(chromium, live_server, "clerk", passwords["clerk"])
    try:
        _check_phone_page(page, f"{live_server}/workbench", "workbench")
        _check_phone_page(page, f"{live_server}/cases/new", "intake")
        # The party table's controls are named by row and field (read aloud by a screen reader).
        assert page.get_attribute("input[name=parties-1-phone]", "aria-label") == "当事人2 手机号码"
        page.click("text=＋ 添加当事人")
        assert page.get_attribute("input[name=parties-2-name]", "aria-label") == "当事人3 姓名或名称"
        _check_phone_page(page, f"{live_server}/cases/{case_id}", "case")

        rows = page.locator("#timeline td.history-text").all_inner_texts()
        assert len(rows) >= 8, rows
        for text in rows:
            assert any(text.startswith(f"{name} ") for name in names | {"系统"}), text
            assert "=" not in text and "expert_id" not in text, text
            # No internal code (stage, action, login): no Latin word of any kind.
            assert not re.search(r"[A-Za-z]{3,}", text), text
        # The demo's clerk drove this case: a person's name, and the Chinese outcome of a session.
        assert any(t == "陈晓 受理了案件" for t in rows), rows
        assert any(
            re.fullmatch(r"陈晓 记录第\d+次调解：(继续调解|达成协议|调解不成|撤回申请)", t) for t in rows
        )
    finally:
        context.close()

    context, page = _phone_page(chromium, live_server, "director", passwords["director"])
    try:
        _check_phone_page(page, f"{live_server}/dashboard", "dashboard")
        _check_phone_page(page, f"{live_server}/holding", "holding")
    finally:
        context.close()
