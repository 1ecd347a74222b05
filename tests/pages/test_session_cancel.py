"""取消调解 at a party's request: one field of one command, served alike by the JSON API and the page
(the command's title names it in errors; the page's form is read into the same command)."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models.audit import AuditEvent
from models.db import utcnow
from models.party import Party
from tests.pages.conftest import csrf_of
from tests.support.scenario import Scenario

CHINA = ZoneInfo("Asia/Shanghai")


def _case_with_session(engine, users, experts) -> tuple[int, int]:
    """A neighbour case registered three hours ago, accepted and given its panel since, a session
    scheduled now for 09:30 the day after tomorrow."""
    start = utcnow() - timedelta(hours=3)
    s = Scenario(engine, clerk=users["clerk"], experts=experts, start=start)
    s.registered().accepted().panel("mediator_tangxia", "elder_tangxia")
    when = (
        (utcnow() + timedelta(days=2)).astimezone(CHINA).replace(hour=9, minute=30, second=0, microsecond=0)
    )
    s.scheduled(when, now=utcnow())
    return s.case, s.session


def test_api_records_who_asked_to_cancel(engine, users, experts, as_user) -> None:
    cid, sid = _case_with_session(engine, users, experts)
    api = as_user("clerk")
    r = api.post(f"/cases/{cid}/sessions/{sid}/cancel", {"reason": "因病住院", "requested_by": "路人甲"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [
        {
            "loc": ["body", "requested_by"],
            "msg": "申请取消的一方应为本案当事人",
            "type": "value_error",
            "field": "申请取消的一方",
        }
    ]
    r = api.post(f"/cases/{cid}/sessions/{sid}/cancel", {"reason": "因病住院", "requested_by": "林小二"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert r.json()["cancel_reason"] == "因病住院（应林小二申请）"
    # The audit log keeps no personal data: the party by its id, the reason as typed.
    with Session(engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "session.cancel", AuditEvent.case_id == cid)
        ).one()
        lin = session.exec(select(Party.id).where(Party.case_id == cid, Party.name == "林小二")).one()
    assert event.after == {"reason": "因病住院", "requested_by_party_id": lin}
    assert "林小二" not in json.dumps(event.after, ensure_ascii=False)


def test_a_v1_cancel_body_is_still_the_centers_decision(engine, users, experts, as_user) -> None:
    cid, sid = _case_with_session(engine, users, experts)
    r = as_user("clerk").post(f"/cases/{cid}/sessions/{sid}/cancel", {"reason": "双方已自行和解"})
    assert r.status_code == 200, r.text
    assert r.json()["cancel_reason"] == "双方已自行和解"


def test_page_offers_the_parties_and_records_the_one_chosen(
    engine, users, experts, as_user, browser_for
) -> None:
    cid, sid = _case_with_session(engine, users, experts)
    clerk = browser_for("clerk")
    page = clerk.get(f"/cases/{cid}")
    assert '<option value="陈阿大">陈阿大</option>' in page.text and "调解组织决定" in page.text
    r = clerk.post(
        f"/cases/{cid}/sessions/{sid}/cancel",
        data={"reason": "申请人出差", "requested_by": "陈阿大", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert "取消理由：申请人出差（应陈阿大申请）" in clerk.get(f"/cases/{cid}").text

    # A refused command comes back as the flash message, each field named by its title.
    cid, sid = _case_with_session(engine, users, experts)
    page = clerk.get(f"/cases/{cid}")
    r = clerk.post(
        f"/cases/{cid}/sessions/{sid}/cancel",
        data={"reason": "x" * 501, "requested_by": "", "csrf_token": csrf_of(page.text)},
        follow_redirects=True,
    )
    assert "理由：最多 500 个字符" in r.text
