"""The session record page of a 40-party case in Chromium: one row per party at 1280 px and on a
390 px phone (the table scrolls inside itself, the page does not), the speaker list follows the
present boxes, the usual answer fills in one click, and an error keeps everything ticked and typed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.db import utcnow
from tests.factories import PASSWORD, wage_case, wait_for_case_runs
from tests.support.scenario import Scenario

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

# The v1.1 form repeated one 300-px answer block per party: 12,456 px for 19 parties. One row per
# party is about 40 px; with the statements, the oral agreement (folded) and the header, a 40-party
# form stays well under this.
MAX_HEIGHT = 4500


def _forty_party_session(engine) -> tuple[int, int]:
    """The 39 workers and their company (with its representative and agent), registered three hours
    ago by 蔡受理, 王调解 presiding with 周律师, a session set two days ahead."""
    body = wage_case(claimants=39)
    body["parties"][-1].update(legal_representative="郑法人", agent_name="孙代理")
    at = utcnow() - timedelta(hours=3)
    s = Scenario(engine, start=at).registered(body).accepted().panel("mediator_yuhai", "lawyer")
    s.scheduled(utcnow() + timedelta(days=2), now=at + timedelta(hours=2))
    return s.case, s.session


def test_forty_parties_fit_at_1280_and_390(engine, live_server, open_as) -> None:
    cid, sid = _forty_party_session(engine)
    # The relay issues a panel notice and a session notice to each of the 41 parties (82 PDFs) in two
    # transactions; on SQLite a save waits for them. This test is about the page: let them finish first
    # (82 signed PDFs took over 240 s under coverage while the other worker rendered too).
    wait_for_case_runs(engine, cid, timeout=480)
    page = open_as("clerk", PASSWORD)
    url = f"{live_server}/cases/{cid}/sessions/{sid}/record"
    heights = {}
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        assert page.locator("tr.party-row").count() == 40
        heights[width] = page.evaluate("document.body.scrollHeight")
        # The page never scrolls sideways; the table does, within its box.
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
        )
    assert heights[1280] < MAX_HEIGHT and heights[390] < MAX_HEIGHT, heights

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    form = page.locator("form.record-form")
    speaker = form.locator("select[name=statement-0-speaker]")
    # Nobody ticked yet: no party is offered as a speaker; the panel (present by default) is.
    assert speaker.locator('option[value="工人00"]').is_disabled()
    assert not speaker.locator('option[value="王调解"]').is_disabled()
    form.locator('input[name=present][value="工人00"]').check()
    form.locator('input[name=present][value="郑法人"]').check()
    assert not speaker.locator('option[value="工人00"]').is_disabled()
    assert not speaker.locator('option[value="郑法人"]').is_disabled()
    assert speaker.locator('option[value="工人01"]').is_disabled()
    # One click: the usual answer for the parties present, nobody else.
    page.click("button:has-text('到场当事人答复均填')")
    assert form.locator("input[name=answer-0-text]").input_value() == "清楚，无异议"
    assert form.locator("input[name=answer-1-text]").input_value() == ""
    speaker.select_option("郑法人")
    form.locator("textarea[name=statement-0-text]").fill("公司同意分期支付。")
    form.locator("textarea[name=notes]").fill("双方情绪平稳。")
    # rights_told left unticked although an answer is recorded: refused, everything kept.
    form.locator("button:has-text('保存笔录')").click()
    assert "笔录未保存" in page.inner_text("#record-errors")
    errors = page.locator(".field-error").all_inner_texts()
    assert errors == ["当事人答复须在告知权利义务之后记录：请勾选已告知当事人权利义务"]
    assert form.locator('input[name=present][value="工人00"]').is_checked()
    assert form.locator('input[name=present][value="郑法人"]').is_checked()
    assert not form.locator('input[name=present][value="工人01"]').is_checked()
    assert form.locator("input[name=answer-0-text]").input_value() == "清楚，无异议"
    assert form.locator("select[name=statement-0-speaker]").input_value() == "郑法人"
    assert form.locator("textarea[name=statement-0-text]").input_value() == "公司同意分期支付。"
    assert form.locator("textarea[name=notes]").input_value() == "双方情绪平稳。"
    form.locator("input[name=rights_told]").check()
    form.locator("button:has-text('保存笔录')").click()
    assert "调解笔录已记录" in page.inner_text(".flash")
