"""A reviewer of the 司法局 walks a sample in headless Chromium: logs in, draws the sample, scores a case
below the pass mark with a finding, sees it failed and the finding open; the center's clerk answers it on
the case page and the reviewer then reads the review as put right (已整改)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from flows.process import apply_transition
from models.case import Case
from models.db import session_scope
from models.user import User
from tests.factories import PASSWORD, add_user, neighbor_case, person_id, register
from tests.support.clock import CHINA

pytestmark = pytest.mark.browser

STEPS = ["accept", "form_panel", "start_mediation", "fail", "close"]


def test_reviewer_draws_scores_and_sees_findings_answered(engine, live_server, open_as) -> None:
    clerk = add_user(engine, "clerk", "staff", display_name="陈晓")
    add_user(engine, "county", "reviewer", display_name="赵评查")
    start = datetime.now(CHINA) - timedelta(days=3)
    for i in range(3):
        body = neighbor_case()
        body["parties"][0]["id_number"] = person_id(500 + i)
        cid = register(engine, body, actor_id=clerk, now=start + timedelta(minutes=i))
        at = start + timedelta(minutes=i)
        for name in STEPS:
            at += timedelta(hours=1)
            with session_scope(engine, write=True) as s:
                apply_transition(s, s.get(Case, cid), name, actor=s.get(User, clerk), now=at)
    with Session(engine) as s:
        assert len(s.exec(select(Case).where(Case.stage == "closed")).all()) == 3

    page = open_as("county", PASSWORD)
    assert page.url.endswith("/reviews")
    today = datetime.now(CHINA).date()
    page.fill("#draw-form input[name=from]", (today - timedelta(days=10)).isoformat())
    page.fill("#draw-form input[name=to]", today.isoformat())
    page.fill("#draw-form input[name=percent]", "50")
    page.fill("#draw-form input[name=seed]", "浏览器")
    page.click("#draw-form button[type=submit]")
    page.wait_for_url("**/reviews?sample=*")
    # 50% of 3 closed cases: ceil(1.5) = 2.
    assert "已从 3 件结案案件中抽取 2 件" in page.inner_text("#flash")
    assert page.inner_text("#population") == "3" and page.inner_text("#drawn") == "2"
    rows = page.locator("#review-list .review-row")
    assert rows.count() == 2 and "待评分" in rows.first.inner_text()

    rows.first.locator("a").click()
    page.wait_for_url("**/reviews/*")
    for field in (
        "acceptance",
        "procedure",
        "documents",
        "agreement",
        "dossier",
        "follow_up",
        "satisfaction",
    ):
        page.fill(f"input[name=score-{field}]", "5")
    page.fill("textarea[name=note]", "程序基本规范，文书欠缺")
    page.fill("textarea[name=findings]", "未附当事人身份证明")
    page.click("#score-form button[type=submit]")
    page.wait_for_load_state()
    assert "评分已保存" in page.inner_text("#flash")
    # 7 × 5 = 35 below the pass mark of 42, with a finding open: failed.
    assert page.inner_text("#review-status") == "不合格" and page.inner_text("#review-total") == "35"
    assert "待调解中心答复" in page.inner_text("#findings")
    case_link = page.locator("h1 a").get_attribute("href")

    page.goto(f"{live_server}/reviews")
    assert "未附当事人身份证明" in page.inner_text("#open-findings")
    # The reviewer's case page offers no action and no answer form.
    page.goto(f"{live_server}{case_link}")
    assert page.locator("#review-findings form").count() == 0
    assert page.locator("form[action$='/accept']").count() == 0

    staff = open_as("clerk", PASSWORD)
    staff.goto(f"{live_server}{case_link}")
    staff.fill("#review-findings textarea[name=answer]", "已补充双方身份证复印件入卷")
    staff.click("#review-findings button[type=submit]")
    staff.wait_for_load_state()
    assert "已答复整改情况" in staff.inner_text("#flash")

    page.goto(f"{live_server}/reviews")
    assert "没有待整改的问题" in page.inner_text("#open-findings")
    assert "已整改" in page.inner_text("#review-list")
    # On a phone (390 px) the review list scrolls inside its own box, not the page.
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
