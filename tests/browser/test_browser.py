"""The pages driven in headless Chromium against a real server with the embedded relay running flows."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from flows import intake
from flows.escalation import run_sweep
from models.case import Case
from models.db import session_scope, utcnow
from models.schemas import CaseCreate
from models.user import User
from runtime.relay import after_commit
from tests.factories import PASSWORD, add_user, expert_bank, neighbor_case, org_code, person_id, wage_case
from tests.support.clock import CHINA
from tests.support.scenario import Scenario, people

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("TIAOJIE_SCREENSHOTS")  # a folder: save a screenshot of each page (not committed)


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _register(engine, body: dict, username: str = "clerk") -> Case:
    with session_scope(engine, write=True) as session:
        clerk = session.exec(select(User).where(User.username == username)).one()
        case = intake.register_case(
            session=session, data=CaseCreate.model_validate(body), actor=clerk, now=utcnow()
        )
        session.flush()
        return case


def test_staff_registers_wage_case_forms_panel_records_sessions_and_downloads_agreement(
    engine, live_server, open_as
) -> None:
    expert_bank(engine)
    add_user(engine, "clerk", "staff", display_name="陈晓")
    page = open_as("clerk", PASSWORD)
    shot(page, "workbench")

    # 登记: two worker representatives (one added with the row button) + the company; headcount 17.
    page.click("text=纠纷登记")
    page.select_option("select[name=category]", "labor")
    page.fill("input[name=town]", "玉海街道")
    page.fill("input[name=village]", "滨江社区")
    page.fill("input[name=amount_involved]", "320000.00")
    page.fill("input[name=headcount]", "17")
    page.fill("textarea[name=summary]", "17名工人反映瑞安市某建设有限公司拖欠2026年7月至10月工资共计32万元。")
    page.fill("textarea[name=claims]", "请求支付拖欠工资320000元。")
    page.fill("input[name=parties-0-name]", "工人00")
    page.fill("input[name=parties-0-id_number]", person_id(100))
    page.fill("input[name=parties-0-phone]", "13805770000")
    page.check("input[name=parties-0-is_representative]")
    page.select_option("select[name=parties-1-role]", "respondent")
    page.fill("input[name=parties-1-name]", "瑞安市某建设有限公司")
    page.fill("input[name=parties-1-org_code]", org_code(1))
    page.click("text=＋ 添加当事人")
    page.select_option("select[name=parties-2-role]", "applicant")
    page.select_option("select[name=parties-2-kind]", "person")
    page.fill("input[name=parties-2-name]", "工人01")
    page.fill("input[name=parties-2-id_number]", "330381198503120000")  # wrong checksum first
    page.fill("input[name=parties-2-phone]", "13805770001")
    page.check("input[name=parties-2-is_representative]")
    page.click("button:has-text('提交登记')")
    assert page.locator(".field-error").all_inner_texts() == ["身份证号校验位不正确"]
    assert page.input_value("input[name=parties-2-name]") == "工人01"
    assert page.input_value("input[name=headcount]") == "17"
    shot(page, "intake-error")
    page.fill("input[name=parties-2-id_number]", person_id(101))
    page.click("button:has-text('提交登记')")
    page.wait_for_url("**/cases/*")
    assert "已登记，案号" in page.inner_text(".flash")
    assert "群体性纠纷" in page.inner_text("h1")
    case_id = int(page.url.rstrip("/").split("/")[-1].split("#")[0])

    # 受理 → 专班 (the proposal, one click) → two sessions → agreement.
    page.click("button:has-text('受理')")
    assert "已受理" in page.inner_text(".flash")
    page.click("text=推荐并组建专班")
    assert "专长匹配：劳动争议" in page.locator("ul.reasons li").all_inner_texts()
    # 郑某 works for the respondent company: excluded, and the page says why (特邀调解规定 第15条).
    excluded = page.locator("td.danger-text").all_inner_texts()
    assert excluded == ["与当事人“瑞安市某建设有限公司”属同一单位（瑞安市某建设有限公司）"]
    shot(page, "panel")
    page.click("button:has-text('确认专班')")
    assert "专班已确认" in page.inner_text(".flash")

    for seq, outcome in ((1, "continue"), (2, "agreed")):
        when = (utcnow() + timedelta(days=seq)).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
        page.fill("#schedule-form input[name=scheduled_at]", when)
        page.fill("#schedule-form input[name=location]", f"第{seq}调解室")
        page.click("#schedule-form button[type=submit]")
        if page.locator("#schedule-warnings").count():  # a weekend or holiday: shown first, then confirmed
            page.click("button:has-text('仍然安排')")
        assert "调解已安排" in page.inner_text(".flash")
        page.click(f"a:has-text('记录第{seq}次调解笔录')")
        form = page.locator("form.record-form")
        for name in ("工人00", "工人01", "瑞安市某建设有限公司"):
            form.locator(f'input[name=present][value="{name}"]').check()
        form.locator("textarea[name=notes]").fill(f"第{seq}次调解：双方陈述意见。")
        if seq == 1:  # issue 10: the first session's record states the rights and duties were told
            form.locator("input[name=rights_told]").check()
        form.locator("select[name=outcome]").select_option(outcome)
        form.locator("button:has-text('保存笔录')").click()
        assert "调解笔录已记录" in page.inner_text(".flash")
    shot(page, "case-agreed")

    page.click("a.btn:has-text('制作协议书')")
    due = (utcnow() + timedelta(days=30)).astimezone(CHINA).date().isoformat()
    # 义务人 and 权利人 are picked from the parties, never typed.
    page.select_option("select[name=terms-0-obligor]", "瑞安市某建设有限公司")
    page.select_option("select[name=terms-0-obligee]", "工人00")
    page.fill("input[name=terms-0-obligation]", "支付拖欠工资")
    page.fill("input[name=terms-0-amount]", "320000.00")
    page.fill("input[name=terms-0-due_date]", due)
    page.fill("input[name=performance_method]", "银行转账至各申请人账户")
    page.fill("input[name=performance_place]", "瑞安市")
    shot(page, "agreement-form")
    page.click("button:has-text('生成协议书')")
    # The page refreshes itself while the PDF is being issued by the relay.
    try:
        page.wait_for_selector("#agreement-pdf", timeout=90000)
    except Exception:
        from models.process_run import ProcessRun

        with Session(engine) as session:
            runs = [
                (r.key, r.status, (r.last_error or "")[-300:]) for r in session.exec(select(ProcessRun)).all()
            ]
        pytest.fail(f"agreement PDF not issued; runs: {runs}; page: {page.inner_text('#agreement')[:300]}")
    href = page.get_attribute("#agreement-pdf", "href")
    pdf = page.request.get(f"{live_server}{href}")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    shot(page, "case-pdf")

    page.click("button:has-text('登记签署')")
    assert "进入履行回访" in page.inner_text(".flash")
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case.stage == "follow_up" and case.headcount == 17 and case.is_mass


def test_lawyer_cannot_open_another_lawyers_case(engine, live_server, open_as) -> None:
    s = Scenario.just_now(engine)
    people(engine, "zhoulawyer", experts=s.experts)
    mine = s.registered(wage_case(claimants=3)).case
    other = _register(engine, neighbor_case()).id
    s.accepted().panel("mediator_yuhai", ("lawyer", "legal_advisor"))
    page = open_as("zhoulawyer", PASSWORD)
    assert f"/cases/{mine}" in page.content() and f'href="/cases/{other}"' not in page.content()
    shot(page, "lawyer-cases")
    response = page.goto(f"{live_server}/cases/{other}")
    assert response.status == 404 and "案件不存在或您无权查看" in page.inner_text("body")
    page.goto(f"{live_server}/cases/{mine}")
    page.fill("#opinion-form textarea[name=body]", "协议条款合法，同意签署。")
    page.click("#opinion-form button[type=submit]")
    assert "法律意见已提交" in page.inner_text(".flash")
    assert "协议条款合法" in page.inner_text("#opinions")


def test_leader_sees_the_escalated_case_on_the_dashboard(engine, live_server, open_as) -> None:
    add_user(engine, "clerk", "staff")
    add_user(engine, "director", "leader", level=1, display_name="中心主任")
    case = _register(engine, neighbor_case())
    escalated = run_sweep(engine, now=utcnow() + timedelta(days=20))
    after_commit()
    assert any(e["case_id"] == case.id for e in escalated)
    page = open_as("director", PASSWORD)
    assert page.url.endswith("/dashboard")
    assert case.case_no in page.inner_text("#escalated")
    assert page.locator("svg.chart").count() == 1
    shot(page, "dashboard")
    page.click("text=督办包案")
    assert case.case_no in page.inner_text("main")
    shot(page, "holding")
