"""The 17-worker wage case walked in headless Chromium by the mediator who carries it (issue 18).

Intake of 17 workers and the company (three workers come themselves, the other fourteen are represented by
the one they elected, the company acts through its 法定代表人), the panel, one session recorded on the
per-party table, 17 terms picked from the parties, signing, the 回访 reminder, a follow-up that leaves two
workers unpaid (closing as 履行完毕 refused, naming them, and the note typed kept), a second follow-up that
records them paid, and the close. Expectations are counted by hand from the data built here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from flows.scheduled import send_due_term_reminders
from models.agreement import Agreement, AgreementTerm
from models.case import Case
from models.db import session_scope, utcnow
from models.expert import PanelMember
from tests.factories import (
    PASSWORD,
    add_user,
    expert_bank,
    org_code,
    person_id,
    supply_identity,
    wait_for_case_runs,
)
from tests.support.clock import CHINA, on

pytestmark = pytest.mark.browser

WORKERS = [f"工人{i:02d}" for i in range(17)]
IN_PERSON = WORKERS[:3]  # 工人00 (elected representative), 工人01, 工人02
COMPANY = "瑞安市某建设有限公司"
WAGE = 18_000  # each worker's arrears, 元
UNPAID = WORKERS[15:]  # 工人15, 工人16: terms 16 and 17


def _open_more(row) -> None:
    details = row.locator("td.party-more details")
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def test_the_linked_mediator_walks_the_seventeen_worker_case_to_a_guarded_close(
    engine, live_server, open_as
) -> None:
    bank = expert_bank(engine)
    # 王调解 of the expert bank (玉海街道, labor) has an account linked to the record: the proposal makes
    # them the presiding mediator, so the case is theirs to carry.
    mediator = add_user(engine, "wangtj", "staff", expert_id=bank["mediator_yuhai"], display_name="王调解")
    page = open_as("wangtj", PASSWORD)

    # --- 登记: the company in row 2, then the 17 workers.
    page.click("text=纠纷登记")
    page.select_option("select[name=category]", "labor")
    page.fill("input[name=town]", "玉海街道")
    page.fill("input[name=amount_involved]", f"{WAGE * 17}.00")
    page.fill("input[name=headcount]", "17")
    page.fill("textarea[name=summary]", f"17名工人反映{COMPANY}拖欠2026年工资共计306000元。")
    page.fill("textarea[name=claims]", "请求支付拖欠工资306000元。")
    rows = page.locator("table.parties tbody tr[data-row]")
    page.fill("input[name=parties-0-name]", WORKERS[0])
    page.fill("input[name=parties-0-id_number]", person_id(100))
    page.fill("input[name=parties-0-phone]", "13805770000")
    page.check("input[name=parties-0-is_representative]")
    page.select_option("select[name=parties-1-role]", "respondent")
    page.select_option("select[name=parties-1-kind]", "organization")
    page.fill("input[name=parties-1-name]", COMPANY)
    page.fill("input[name=parties-1-org_code]", org_code(1))
    _open_more(rows.nth(1))
    page.fill("input[name=parties-1-legal_representative]", "张建设")
    page.fill("input[name=parties-1-legal_representative_title]", "总经理")
    for n in range(1, 17):
        i = n + 1
        page.click("text=＋ 添加当事人")
        page.select_option(f"select[name=parties-{i}-role]", "applicant")
        page.select_option(f"select[name=parties-{i}-kind]", "person")
        page.fill(f"input[name=parties-{i}-name]", WORKERS[n])
        page.fill(f"input[name=parties-{i}-id_number]", person_id(100 + n))
        if WORKERS[n] not in IN_PERSON:
            _open_more(rows.nth(i))
            page.fill(f"input[name=parties-{i}-represented_by]", WORKERS[0])
    page.click("button:has-text('提交登记')")
    page.wait_for_url("**/cases/*")
    assert "已登记，案号" in page.inner_text("#flash"), page.inner_text("body")[:600]
    case_id = int(page.url.rstrip("/").split("/")[-1].split("#")[0])
    with Session(engine) as session:
        case_no = session.get(Case, case_id).case_no

    # --- 受理, 专班 (the proposal: 王调解 presides).
    page.click("button:has-text('受理')")
    page.click("text=推荐并组建专班")
    page.click("button:has-text('确认专班')")
    assert "专班已确认" in page.inner_text("#flash")
    with Session(engine) as session:
        lead = session.exec(
            select(PanelMember).where(PanelMember.case_id == case_id, PanelMember.role == "lead")
        ).one()
    assert lead.expert_id == bank["mediator_yuhai"]

    # --- One session, recorded on the per-party table: three workers and 张建设 for the company.
    when = (utcnow() + timedelta(hours=2)).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
    page.fill("#schedule-form input[name=scheduled_at]", when)
    page.fill("#schedule-form input[name=location]", "第一调解室")
    page.click("#schedule-form button[type=submit]")
    if page.locator("#schedule-warnings").count():  # a weekend or holiday: shown first, then confirmed
        page.click("button:has-text('仍然安排')")
    assert "调解已安排" in page.inner_text("#flash")
    page.click("a:has-text('记录第1次调解笔录')")
    form = page.locator("form.record-form")
    assert form.locator("tr[data-party-row]").count() == 18
    for name in [*IN_PERSON, "张建设"]:
        form.locator(f'input[name=present][value="{name}"]').check()
    form.locator("input[name=rights_told]").check()
    form.locator("[data-fill-answers]").click()
    form.locator("textarea[name=notes]").fill("双方确认欠薪数额，公司同意分别支付。")
    form.locator("select[name=outcome]").select_option("agreed")
    form.locator("button:has-text('保存笔录')").click()
    assert "调解笔录已记录" in page.inner_text("#flash"), page.inner_text("body")[:800]

    # --- The agreement: 17 terms, obligor and obligee picked from the parties.
    due = (utcnow() + timedelta(days=10)).astimezone(CHINA).date()
    page.click("a.btn:has-text('制作协议书')")
    for n, worker in enumerate(WORKERS):
        if n:
            page.click("text=＋ 添加条款")
        page.select_option(f"select[name=terms-{n}-obligor]", COMPANY)
        page.select_option(f"select[name=terms-{n}-obligee]", worker)
        page.fill(f"input[name=terms-{n}-obligation]", "支付拖欠工资")
        page.fill(f"input[name=terms-{n}-amount]", f"{WAGE}.00")
        page.fill(f"input[name=terms-{n}-due_date]", due.isoformat())
    page.fill("input[name=performance_method]", "银行转账至各工人账户")
    page.fill("input[name=performance_place]", "瑞安市")
    page.click("button:has-text('生成协议书')")
    page.wait_for_selector("#agreement-pdf", timeout=120000)
    assert not page.locator("#binding-warning, .binding-warning").count()
    page.click("#sign-form button[type=submit]")
    assert "进入履行回访" in page.inner_text("#flash"), page.inner_text("body")[:800]

    # --- The mediator carries it: 我的在办 and one 回访 reminder for the one due date (not 17).
    two_days_before = on(due - timedelta(days=2), 8)
    with session_scope(engine, write=True) as session:
        assert send_due_term_reminders(session, two_days_before) == 1
    signed_reminder = f"{case_no} 第1至17项履行期限 {due}，请届时回访"
    daily_reminder = f"{case_no} 第1至17项（{COMPANY}）即将到期：{due}，请回访"
    for _ in range(60):  # the signing reminder comes from the relay's flow, a moment later
        page.goto(f"{live_server}/workbench")
        if signed_reminder in page.inner_text("#reminders"):
            break
        page.wait_for_timeout(1000)
    reminders = page.inner_text("#reminders")
    assert signed_reminder in reminders and daily_reminder in reminders, reminders
    assert reminders.count("请届时回访") == 1  # one per due date, not one per term
    assert case_no in page.inner_text("#mine")

    # --- 回访 1: fifteen paid in full, 工人15 and 工人16 not yet.
    with Session(engine) as session:
        agreement = session.exec(select(Agreement).where(Agreement.case_id == case_id)).one()
        terms = session.exec(
            select(AgreementTerm)
            .where(AgreementTerm.agreement_id == agreement.id)
            .order_by(col(AgreementTerm.id))
        ).all()
        term_of = {t.obligee: t.id for t in terms}
    assert sorted(term_of) == sorted(WORKERS)

    def follow_up(paid: list[str], not_visited: list[str], opinion: str) -> None:
        page.goto(f"{live_server}/cases/{case_id}")
        visit = page.locator("#follow-up-form")
        visit.get_by_label("回访方式").select_option(label="电话回访")
        visit.get_by_label("被回访人").fill(WORKERS[0])
        for worker in paid:  # the state follows from the amount paid (按已付金额确定)
            visit.locator(f"input[name=paid-{term_of[worker]}]").fill(f"{WAGE}.00")
        for worker in not_visited:
            visit.locator(f"select[name=term-{term_of[worker]}]").select_option(value="")
        visit.get_by_label("当事人意见").fill(opinion)
        visit.locator("button[type=submit]").click()
        page.wait_for_url(f"**/cases/{case_id}*")
        assert "回访已登记" in page.inner_text("#flash"), page.inner_text("body")[:800]

    paid_first = [w for w in WORKERS if w not in UNPAID]
    follow_up(paid_first, [], "工人15、工人16的工资尚未到账")

    # The case shows what each worker is still owed.
    owed = " ".join(page.inner_text("#agreement").split())
    for worker in UNPAID:
        assert worker in owed
    assert "36,000.00" in owed or "36000.00" in owed  # two workers × 18,000 outstanding

    # --- 结案: 履行完毕 is not offered; a stale form that still sends it is refused, naming terms 16 and
    # 17, and the note typed comes back.
    close = page.locator("#close-form")
    offered = close.get_by_label("结案方式").locator("option").all_inner_texts()
    assert not any(o.startswith("履行完毕") for o in offered), offered
    page.evaluate(
        """() => { const s = document.querySelector('#close-form select[name=kind]');
        const o = document.createElement('option'); o.value = 'performed'; o.textContent = '履行完毕';
        s.appendChild(o); s.value = 'performed'; }"""
    )
    close.get_by_label("结案说明").fill("工资已全部付清")
    close.locator("button[type=submit]").click()
    page.wait_for_url(f"**/cases/{case_id}*")
    refusal = page.inner_text("#flash")
    assert "第16、17项" in refusal, refusal
    assert page.locator("#close-form").get_by_label("结案说明").input_value() == "工资已全部付清"
    with Session(engine) as session:
        assert session.get(Case, case_id).stage == "follow_up"

    # The workers nobody saw in person (represented by the three the group elected) file their ID
    # copies for the 卷宗's 当事人身份证明 (models/dossier.py), as the window does before 结案.
    wait_for_case_runs(engine, case_id)
    assert supply_identity(engine, case_id, actor_id=mediator) == 14

    # --- 回访 2: the last two paid; now 履行完毕 is offered and the case closes.
    follow_up(UNPAID, paid_first, "工人15、工人16已收到工资")
    close = page.locator("#close-form")
    offered = close.get_by_label("结案方式").locator("option").all_inner_texts()
    assert any(o.startswith("履行完毕") for o in offered), offered
    close.get_by_label("结案方式").select_option(value="performed")
    close.locator("button[type=submit]").click()
    page.wait_for_url(f"**/cases/{case_id}*")
    assert "履行完毕" in page.inner_text("#flash")
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert (case.stage, case.close_kind) == ("closed", "performed")

    # A closed case's reminders are gone from the mediator's workbench.
    page.goto(f"{live_server}/workbench")
    assert case_no not in (page.inner_text("#reminders") if page.locator("#reminders").count() else "")
    assert mediator  # the linked account is the one walking
