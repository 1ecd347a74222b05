"""Sessions and 结案 in headless Chromium: staff reschedule one session and cancel another (with reasons,
kept on the case page), record a follow-up visit with a term not yet due (the case stays in 履行回访 and
the page shows what is still due), then decide the 结案 (履行完毕)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from models.db import utcnow
from models.mediation_session import MediationSession
from tests.factories import PASSWORD, wait_for_case_runs
from tests.support.clock import CHINA
from tests.support.scenario import Scenario

pytestmark = pytest.mark.browser


def _local_input(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


def test_staff_reschedule_cancel_follow_up_not_yet_due_and_close(engine, live_server, open_as) -> None:
    # Registered six hours ago by 蔡受理 (login "clerk"), each step an hour after the last.
    s = Scenario(engine, start=utcnow() - timedelta(hours=6))
    case_id = s.registered().accepted().panel("mediator_tangxia", "elder_tangxia").case
    tomorrow = (datetime.now(CHINA) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    first = s.scheduled(tomorrow, location="塘下镇调解室").session
    second = s.scheduled(tomorrow + timedelta(days=1), location="塘下镇调解室").session

    staff = open_as("clerk", PASSWORD)
    staff.goto(f"{live_server}/cases/{case_id}")

    # --- Reschedule the first session to three days later, with the reason.
    new_time = tomorrow + timedelta(days=3, hours=5)
    form = staff.locator(f"form[action='/cases/{case_id}/sessions/{first}/reschedule']")
    form.locator("xpath=..").locator("summary").click()
    form.get_by_label("新的调解时间").fill(_local_input(new_time))
    form.get_by_label("改期理由").fill("被申请人外出务工，申请改期")
    form.locator("button[type=submit]").click()
    staff.wait_for_load_state()
    if staff.locator("#schedule-warnings").count():  # e.g. past the stage's last day: shown, then confirmed
        staff.click("button:has-text('仍然改期')")
    staff.wait_for_url(f"**/cases/{case_id}*")
    assert "调解已改期" in staff.inner_text(".flash")
    table = " ".join(staff.inner_text("#sessions table").split())
    assert "改期：原定" in table and "被申请人外出务工，申请改期" in table
    # Numbered by date: the untouched session (day 2) is now 第1次, the moved one (day 4) 第2次.
    rows = staff.locator(f"#sessions tr[data-session='{second}']").inner_text()
    assert "第1次" in rows
    assert "第2次" in staff.locator(f"#sessions tr[data-session='{first}']").inner_text()

    # --- Cancel the other one: kept, struck through, with its reason.
    form = staff.locator(f"form[action='/cases/{case_id}/sessions/{second}/cancel']")
    form.locator("xpath=..").locator("summary").click()
    form.get_by_label("取消理由").fill("当事人同意合并至下次调解")
    form.locator("button[type=submit]").click()
    staff.wait_for_url(f"**/cases/{case_id}*")
    assert "调解已取消" in staff.inner_text(".flash")
    cancelled = staff.locator(f"#sessions tr.cancelled[data-session='{second}']")
    assert cancelled.locator("del").count() >= 1
    assert "当事人同意合并至下次调解" in staff.inner_text("#sessions table")
    assert "第1次" in staff.locator(f"#sessions tr[data-session='{first}']").inner_text()

    # --- Held, agreed, agreement signed (the steps other tests walk on the pages).
    held = utcnow()
    s.agreed(held, attendees=["陈阿大", "林小二"], session_id=first, now=held)
    today = datetime.now(CHINA).date()
    far = (today + timedelta(days=60)).isoformat()
    terms = [
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "拆除雨棚",
            "due_date": today + timedelta(days=3),
        },
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "赔偿损失",
            "amount": "1500.00",
            "due_date": today + timedelta(days=60),
        },
    ]
    # The embedded relay issues the 协议书; signed once it is out.
    s.issued(terms, now=utcnow(), method="当面履行", place="塘下镇罗凤村").signed(now=utcnow())

    # --- Follow-up: term 1 performed, term 2 not yet due. The case stays in 履行回访.
    staff.goto(f"{live_server}/cases/{case_id}")
    form = staff.locator("#follow-up-form")
    form.get_by_label("回访方式").select_option(label="电话回访")
    form.get_by_label("被回访人").fill("陈阿大")
    form.locator("select[name^=term-]").nth(0).select_option(label="已履行")
    form.locator("select[name^=term-]").nth(1).select_option(label="未到履行期")
    form.get_by_label("当事人意见").fill("雨棚已拆除，赔偿款到期支付")
    form.locator("button[type=submit]").click()
    staff.wait_for_url(f"**/cases/{case_id}*")
    assert "回访已登记" in staff.inner_text(".flash")
    due = " ".join(staff.inner_text("#still-due").split())
    assert "第2项" in due and far in due and "未到履行期" in due and "第1项" not in due
    assert "履行回访" in staff.inner_text(".case-head h1")
    visits = " ".join(staff.inner_text("#agreement").split())
    assert "电话回访" in visits and "陈阿大" in visits

    # --- 结案: term 2 is not yet performed, so 履行完毕 is not offered (issue 18): the parties went to
    # the court for 司法确认 of it, and the case closes as 转司法确认 with that said.
    wait_for_case_runs(engine, case_id)  # the 卷宗 holds what the relay issues (models/dossier.py)
    form = staff.locator("#close-form")
    offered = form.get_by_label("结案方式").locator("option").all_inner_texts()
    assert not any(o.startswith("履行完毕") for o in offered) and any(
        o.startswith("转司法确认") for o in offered
    )
    form.get_by_label("结案方式").select_option(value="judicial_confirm")
    form.get_by_label("结案说明").fill("赔偿款已由人民法院司法确认，中心不再跟踪")
    form.locator("button[type=submit]").click()
    staff.wait_for_url(f"**/cases/{case_id}*")
    assert "已作出结案决定（转司法确认）" in staff.inner_text(".flash")
    assert "已结案（转司法确认）" in staff.inner_text("#closing")
    with Session(engine) as session:
        from models.case import Case

        closed = session.get(Case, case_id)
        assert (closed.stage, closed.close_kind, closed.outcome) == ("closed", "judicial_confirm", "agreed")
        held = session.get(MediationSession, first)
        assert held.seq == 1 and held.reschedules[0]["reason"] == "被申请人外出务工，申请改期"
