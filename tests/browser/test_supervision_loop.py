"""The 督办 loop in headless Chromium: a leader 签收s and writes a 批示 on the holding page, the staff read it
on the case page and write the 承办反馈, and the leader finds the feedback in the history."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from flows import intake
from models.db import session_scope, utcnow
from models.escalation import Escalation
from models.schemas import CaseCreate
from models.user import User
from tests.factories import PASSWORD, add_user, wage_case
from tests.support.clock import CHINA

pytestmark = pytest.mark.browser


def test_leader_acknowledges_and_instructs_staff_answer_leader_reads_feedback(
    engine, live_server, open_as
) -> None:
    add_user(engine, "clerk", "staff", display_name="小陈")
    add_user(engine, "director", "leader", level=1, display_name="王主任")
    # A mass wage dispute starts at 中心主任督办 at intake, assigned to the center director.
    with session_scope(engine, write=True) as session:
        clerk = session.exec(select(User).where(User.username == "clerk")).one()
        case = intake.register_case(
            session=session, data=CaseCreate.model_validate(wage_case()), actor=clerk, now=utcnow()
        )
        session.flush()
        case_id, case_no = case.id, case.case_no
    with Session(engine) as session:
        (esc,) = session.exec(select(Escalation).where(Escalation.case_id == case_id)).all()
        escalation_id = esc.id
    reply_by = (datetime.now(CHINA).date() + timedelta(days=3)).isoformat()

    # --- The leader: mine to act on, first; 签收, then a 批示 with a reply date.
    leader = open_as("director", PASSWORD)
    leader.goto(f"{live_server}/holding")
    to_act = leader.locator("#to-act")
    assert case_no in to_act.inner_text()
    assert "待签收" in to_act.inner_text()
    assert case_no not in leader.locator("#waiting").inner_text()
    to_act.locator(f"#esc-{escalation_id} button:has-text('签收')").click()
    leader.wait_for_url("**/holding")
    assert "已签收" in leader.inner_text(".flash")
    detail = leader.locator(f"#esc-{escalation_id}")
    assert "王主任 签收" in " ".join(detail.inner_text().split())
    detail.locator("textarea[name=text]").fill("请三日内召集劳资双方协商，并书面反馈")
    detail.locator("input[name=reply_by]").fill(reply_by)
    detail.locator("button:has-text('批示')").click()
    leader.wait_for_url("**/holding")
    assert "批示已送达承办人" in leader.inner_text(".flash")
    # Instructed: now waiting on the handlers, no longer "mine to act on".
    assert case_no in leader.locator("#waiting").inner_text()
    assert case_no not in leader.locator("#to-act").inner_text()

    # --- The staff: the 批示 on the case page, and the 承办反馈 written there.
    staff = open_as("clerk", PASSWORD)
    staff.goto(f"{live_server}/cases/{case_id}")
    box = staff.locator(f"#escalations #esc-{escalation_id}")
    text = " ".join(box.inner_text().split())
    assert "王主任 批示：请三日内召集劳资双方协商，并书面反馈" in text
    assert f"要求 {reply_by} 前反馈" in text
    assert box.locator("button:has-text('签收')").count() == 0  # staff do not sign for leaders
    box.locator("textarea[name=text]").fill("已召集双方协商，公司同意分两期支付")
    box.locator("button:has-text('提交反馈')").click()
    staff.wait_for_url(f"**/cases/{case_id}*")
    assert "承办反馈已提交" in staff.inner_text(".flash")

    # --- The leader sees the feedback in the history, with the person's name; the 督办 awaits them again.
    leader.goto(f"{live_server}/holding")
    detail = leader.locator(f"#to-act #esc-{escalation_id}")
    history = " ".join(detail.inner_text().split())
    assert "小陈 承办反馈：已召集双方协商，公司同意分两期支付" in history
    assert history.index("王主任 签收") < history.index("王主任 批示") < history.index("小陈 承办反馈")
    assert "已反馈" in leader.locator("#to-act").inner_text()

    # The leader's case page offers the loop's forms too: a 催办 from there.
    leader.goto(f"{live_server}/cases/{case_id}")
    box = leader.locator(f"#escalations #esc-{escalation_id}")
    box.locator("summary:has-text('催办')").click()
    box.locator("input[name=note]").fill("请尽快落实第一期款项")
    box.locator("button:has-text('催办')").click()
    leader.wait_for_url(f"**/cases/{case_id}*")
    assert "已催办" in leader.inner_text(".flash")
    assert "王主任 催办：请尽快落实第一期款项" in " ".join(
        leader.locator(f"#escalations #esc-{escalation_id}").inner_text().split()
    )
