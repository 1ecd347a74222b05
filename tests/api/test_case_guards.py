"""The case guards itself (issue 18 point 1, CONTRACT v1.2): no 履行完毕 over unperformed terms, the
closing kinds that fit, no signing over the lawyer's standing disapproval without a reason, no session
held in the future or before registration, no signing before the session at which the parties agreed,
and a 督办 ended by the closing says so and stays on its leader's page. Each refusal is driven through
the JSON API and the page, is a Chinese 409/422 and changes nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from flows.escalation import escalate_now
from models.audit import AuditEvent
from models.case import Case
from models.closing import CaseClosing
from models.db import session_scope, utcnow
from models.notification import Notification
from runtime.relay import drain
from tests.factories import wage_case
from tests.pages.conftest import csrf_of, login
from tests.support.clock import CHINA
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres

COMPANY = "瑞安市某建设有限公司"
WORKERS = ["工人00", "工人01", "工人02"]
WAGE = {"工人00": "18000", "工人01": "18100", "工人02": "18200"}


def _iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _local_input(delta: timedelta = timedelta()) -> str:
    return (datetime.now(CHINA) + delta).strftime("%Y-%m-%dT%H:%M")


def _to_agreed(engine, users, experts) -> tuple[int, int]:
    """A 3-worker wage case, the lawyer 周律师 on its panel, a session scheduled; returns (case, session)."""
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts)
    s.registered(wage_case(claimants=3)).accepted().panel("mediator_tangxia", "lawyer")
    return s.case, s.scheduled(utcnow() + timedelta(days=1)).session


def _record(staff, cid: int, sid: int, held_at: str):
    body = {"held_at": held_at, "attendees": [*WORKERS, COMPANY], "notes": "达成一致。", "outcome": "agreed"}
    return staff.post(f"/cases/{cid}/sessions/{sid}/record", body)


def _draft(engine, staff, cid: int) -> None:
    due = (datetime.now(CHINA).date() + timedelta(days=30)).isoformat()
    terms = [
        {"obligor": COMPANY, "obligee": w, "obligation": "支付拖欠工资", "amount": WAGE[w], "due_date": due}
        for w in WORKERS
    ] + [{"obligor": COMPANY, "obligee": "工人00", "obligation": "出具工资结算清单", "due_date": due}]
    body = {"terms": terms, "performance_method": "银行转账", "performance_place": "瑞安市"}
    r = staff.post(f"/cases/{cid}/agreement", body)
    assert r.status_code == 201, r.text
    drain(engine)


def _to_follow_up(engine, staff, users, experts) -> tuple[int, dict[str, int], int]:
    cid, sid = _to_agreed(engine, users, experts)
    assert _record(staff, cid, sid, _iso()).status_code == 200
    _draft(engine, staff, cid)
    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()})
    assert r.status_code == 200, r.text
    terms = staff.get(f"/cases/{cid}").json()["agreement"]["terms"]
    ids = {t["obligee"]: t["id"] for t in terms if t["amount"]}
    slip = next(t["id"] for t in terms if t["amount"] is None)
    return cid, ids, slip


def _why(r) -> str:
    detail = r.json()["detail"]
    return detail if isinstance(detail, str) else " ".join(e["msg"] for e in detail)


def _flash(page: str) -> str:
    m = re.search(r'class="flash flash-error"[^>]*>(.*?)</', page, re.S)
    return html.unescape(m.group(1)) if m else ""


def _close_options(page: str) -> list[str]:
    form = re.search(r'<form[^>]*id="close-form".*?</form>', page, re.S)
    return re.findall(r'<option value="([a-z_]+)"', form.group(0)) if form else []


def _closings(engine, cid: int) -> int:
    with Session(engine) as s:
        return len(s.exec(select(CaseClosing).where(CaseClosing.case_id == cid)).all())


def test_no_performed_closing_while_a_term_is_not_performed(engine, client, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid, ids, slip = _to_follow_up(engine, staff, users, experts)
    today = datetime.now(CHINA).date().isoformat()
    # 工人00 paid in full, 工人01 part, 工人02 nothing; the pay slip handed over.
    visit = {
        "visited_at": _iso(),
        "terms": [
            {"term_id": ids["工人00"], "paid_amount": "18000", "paid_on": today},
            {"term_id": ids["工人01"], "paid_amount": "100", "paid_on": today},
            {"term_id": ids["工人02"], "state": "not_performed"},
            {"term_id": slip, "state": "performed"},
        ],
    }
    assert staff.post(f"/cases/{cid}/follow-ups", visit).status_code == 201

    # The API: 履行完毕 refused naming terms 2 and 3, with or without a note (the old escape is gone).
    for body in ({"kind": "performed"}, {"kind": "performed", "note": "当事人表示不再追究"}):
        r = staff.post(f"/cases/{cid}/close", body)
        assert r.status_code == 409, r.text
        assert "第2、3项尚未履行完毕" in _why(r) and "履行完毕" in _why(r)
    # 部分履行 needs the reason in the note.
    r = staff.post(f"/cases/{cid}/close", {"kind": "partly_performed"})
    assert r.status_code == 422 and "写明理由" in _why(r)
    case = staff.get(f"/cases/{cid}").json()
    assert (case["stage"], case["close_kind"]) == ("follow_up", None)
    assert [t["seq"] for t in case["still_due"]] == [2, 3]
    assert _closings(engine, cid) == 0

    # The page offers the kinds that fit: not 履行完毕; a forced 履行完毕 is refused the same way.
    assert login(client, "clerk").status_code == 303
    page = client.get(f"/cases/{cid}").text
    assert _close_options(page) == [
        "partly_performed",
        "judicial_confirm",
        "payment_order",
        "litigation",
        "arbitration",
    ]
    assert "《中华人民共和国人民调解法》第三十三条" in page  # 转司法确认's basis, from models.law
    form = {
        "csrf_token": csrf_of(page),
        "kind": "performed",
        "note": "已履行",
        "version": str(case["version"]),
    }
    r = client.post(f"/cases/{cid}/close", data=form, follow_redirects=True)
    assert "第2、3项尚未履行完毕" in _flash(r.text)
    assert staff.get(f"/cases/{cid}").json()["stage"] == "follow_up" and _closings(engine, cid) == 0

    # A later visit finds the rest paid: 履行完毕 is the only kind offered, the others are refused.
    rest = {
        "visited_at": _iso(),
        "terms": [
            {"term_id": ids["工人01"], "paid_amount": "18000", "paid_on": today},
            {"term_id": ids["工人02"], "paid_amount": "18200", "paid_on": today},
        ],
    }
    assert staff.post(f"/cases/{cid}/follow-ups", rest).status_code == 201
    r = staff.post(f"/cases/{cid}/close", {"kind": "litigation", "note": "起诉"})
    assert r.status_code == 409 and "均已履行" in _why(r)
    page = client.get(f"/cases/{cid}").text
    assert _close_options(page) == ["performed"]
    form = {"csrf_token": csrf_of(page), "kind": "performed", "note": "", "version": ""}
    r = client.post(f"/cases/{cid}/close", data=form, follow_redirects=True)
    assert "已作出结案决定（履行完毕）" in r.text
    case = staff.get(f"/cases/{cid}").json()
    assert (case["stage"], case["close_kind"], case["outcome"]) == ("closed", "performed", "agreed")


def test_latest_visit_decides_and_money_owed_is_not_performed(engine, as_user, users, experts) -> None:
    """A visit entered later for an earlier day does not overrule the latest one."""
    staff = as_user("clerk")
    cid, ids, slip = _to_follow_up(engine, staff, users, experts)
    all_paid = {
        "visited_at": _iso(),
        "terms": [{"term_id": ids[w], "state": "performed"} for w in WORKERS]
        + [{"term_id": slip, "state": "performed"}],
    }
    assert staff.post(f"/cases/{cid}/follow-ups", all_paid).status_code == 201
    # Entered afterwards, but of a visit an hour earlier: the slip was then not yet handed over.
    older = {"visited_at": _iso(timedelta(minutes=-2)), "terms": [{"term_id": slip, "state": "not_due"}]}
    assert staff.post(f"/cases/{cid}/follow-ups", older).status_code == 201
    r = staff.post(f"/cases/{cid}/close", {"kind": "performed"})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "closed"


def test_other_kinds_close_as_agreed_and_the_supervision_says_why(
    engine, client, as_user, experts, users
) -> None:
    staff = as_user("clerk")
    cid, ids, _slip = _to_follow_up(engine, staff, users, experts)
    visit = {"visited_at": _iso(), "terms": [{"term_id": ids["工人02"], "state": "not_performed"}]}
    assert staff.post(f"/cases/{cid}/follow-ups", visit).status_code == 201
    # The director's 督办 on the case (as the sweep would make it).
    with session_scope(engine, write=True) as s:
        esc = escalate_now(
            s, s.get(Case, cid), to_level=1, now=datetime.now(UTC), reason="超期未结", period_index=0
        )
        assert esc is not None and esc.assignee_id == users["director"]
        eid = esc.id

    assert login(client, "clerk").status_code == 303
    page = client.get(f"/cases/{cid}").text
    form = {"csrf_token": csrf_of(page), "kind": "payment_order", "note": "工人02未获支付，引导申请支付令"}
    r = client.post(f"/cases/{cid}/close", data=form, follow_redirects=True)
    assert "已作出结案决定（申请支付令）" in r.text
    case = staff.get(f"/cases/{cid}").json()
    assert (case["stage"], case["close_kind"], case["close_kind_label"], case["outcome"]) == (
        "closed",
        "payment_order",
        "申请支付令",
        "agreed",
    )
    (e,) = [e for e in case["escalations"] if e["id"] == eid]
    resolve = e["events"][-1]
    assert (resolve["kind"], resolve["text"]) == ("resolve", "案件已结案（申请支付令），督办自动结束")
    assert resolve["actor"] == "蔡受理"  # whose closing ended it, never "系统"
    assert e["resolved_reason"] == "案件已结案（申请支付令），督办自动结束"

    # The director still sees it, as ended, with the reason.
    director = as_user("director")
    ended = director.get("/escalations", params={"mine": "true", "open": "false"}).json()
    assert [(x["id"], x["status"], x["resolved_reason"]) for x in ended["items"]] == [
        (eid, "resolved", "案件已结案（申请支付令），督办自动结束")
    ]
    client.cookies.clear()
    assert login(client, "director").status_code == 303
    holding = client.get("/holding").text
    section = re.search(r'<section class="panel" id="ended">(.*?)</section>', holding, re.S)
    assert section and f'id="ended-{eid}"' in section.group(1)
    assert "案件已结案（申请支付令），督办自动结束" in section.group(1)
    assert "蔡受理" in section.group(1)


def _disapprove(as_user, cid: int, body: str = "第3项金额与工资表不符，不同意，需修改"):
    lawyer = as_user("zhoulawyer")
    r = lawyer.post(f"/cases/{cid}/opinions", {"kind": "agreement_review", "approved": False, "body": body})
    assert r.status_code == 201, r.text
    return lawyer


def test_signing_over_a_disapproval_needs_a_reason(engine, client, as_user, experts, users) -> None:
    staff = as_user("clerk")
    cid, sid = _to_agreed(engine, users, experts)
    assert _record(staff, cid, sid, _iso()).status_code == 200
    _draft(engine, staff, cid)
    _disapprove(as_user, cid)

    # The API refuses without a reason, naming the lawyer and what was said; nothing changes.
    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()})
    assert r.status_code == 409, r.text
    assert "律师" in _why(r) and "不同意" in _why(r) and "第3项金额与工资表不符" in _why(r)
    assert "override_reason" in _why(r)
    case = staff.get(f"/cases/{cid}").json()
    assert case["stage"] == "agreed" and case["agreement"]["signed_at"] is None
    assert case["agreement"]["lawyer_disapproval"]["body"] == "第3项金额与工资表不符，不同意，需修改"

    # The page warns before signing and asks for the reason; without it the action refuses.
    assert login(client, "clerk").status_code == 303
    page = client.get(f"/cases/{cid}").text
    warning = re.search(r'id="sign-warning"[^>]*>(.*?)</p>', page, re.S)
    assert warning and "不同意" in warning.group(1) and "第3项金额与工资表不符" in warning.group(1)
    assert 'name="override_reason"' in page
    form = {"csrf_token": csrf_of(page), "signed_at": _local_input(), "override_reason": "  "}
    r = client.post(f"/cases/{cid}/agreement/signed", data=form, follow_redirects=True)
    assert "不同意" in _flash(r.text)
    assert staff.get(f"/cases/{cid}").json()["stage"] == "agreed"

    # With a reason: signed, the override recorded, shown, audited and sent to the director.
    reason = "经核对工资表，第3项金额系律师误读，当事人坚持按此签署"
    form["override_reason"] = reason
    r = client.post(f"/cases/{cid}/agreement/signed", data=form, follow_redirects=True)
    assert "已登记协议签署" in r.text
    shown = re.search(r'id="sign-override"[^>]*>(.*?)</p>', r.text, re.S)
    assert shown and "蔡受理" in shown.group(1) and reason in html.unescape(shown.group(1))
    agreement = staff.get(f"/cases/{cid}").json()["agreement"]
    assert agreement["sign_override"]["reason"] == reason and agreement["sign_override"]["by"] == "蔡受理"
    with Session(engine) as s:
        audit = s.exec(
            select(AuditEvent).where(AuditEvent.case_id == cid, AuditEvent.action == "agreement.sign")
        ).one()
        assert audit.after["override_reason"] == reason
        notes = s.exec(
            select(Notification).where(Notification.case_id == cid, Notification.user_id == users["director"])
        ).all()
    assert any("律师不同意" in n.text and reason in n.text for n in notes)


def test_a_later_approval_or_a_new_draft_lifts_the_disapproval(engine, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid, sid = _to_agreed(engine, users, experts)
    assert _record(staff, cid, sid, _iso()).status_code == 200
    _draft(engine, staff, cid)
    lawyer = _disapprove(as_user, cid)
    assert staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()}).status_code == 409
    # The draft is corrected (revision 2): the opinion on draft 1 no longer binds.
    _draft(engine, staff, cid)
    assert staff.get(f"/cases/{cid}").json()["agreement"]["lawyer_disapproval"] is None
    # A disapproval of draft 2, then the lawyer's approval of draft 2: the latest opinion stands.
    _disapprove(as_user, cid)
    assert staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()}).status_code == 409
    r = lawyer.post(
        f"/cases/{cid}/opinions", {"kind": "agreement_review", "approved": True, "body": "已修改，同意"}
    )
    assert r.status_code == 201
    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()})
    assert r.status_code == 200, r.text
    assert staff.get(f"/cases/{cid}").json()["agreement"]["sign_override"] is None


def test_session_times_and_signing_after_the_agreed_session(engine, client, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid, sid = _to_agreed(engine, users, experts)
    registered = datetime.fromisoformat(staff.get(f"/cases/{cid}").json()["created_at"])

    r = _record(staff, cid, sid, _iso(timedelta(days=13)))
    assert r.status_code == 422 and "不能晚于当前时间" in _why(r)
    r = _record(staff, cid, sid, (registered - timedelta(minutes=5)).isoformat())
    assert r.status_code == 422 and "不能早于案件登记时间" in _why(r)
    assert login(client, "clerk").status_code == 303
    page = client.get(f"/cases/{cid}").text
    form = {
        "csrf_token": csrf_of(page),
        "held_at": _local_input(timedelta(days=13)),
        "attendees": "、".join([*WORKERS, COMPANY]),
        "notes": "达成一致。",
        "outcome": "agreed",
    }
    r = client.post(f"/cases/{cid}/sessions/{sid}/record", data=form, follow_redirects=True)
    # The record page is shown again with the reason beside the time (and everything typed kept).
    assert r.status_code == 422 and "召开时间不能晚于当前时间" in r.text and "达成一致。" in r.text
    case = staff.get(f"/cases/{cid}").json()
    assert case["stage"] == "panel_formed" and case["sessions"][0]["held_at"] is None

    held = datetime.now(UTC)
    assert _record(staff, cid, sid, held.isoformat()).status_code == 200
    _draft(engine, staff, cid)
    early = (held - timedelta(minutes=2)).isoformat()
    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": early})
    assert r.status_code == 422 and "签署时间不能早于当事人达成协议的第1次调解" in _why(r)
    page = client.get(f"/cases/{cid}").text
    # The page's minutes: a minute before the session's minute is before it.
    form = {
        "csrf_token": csrf_of(page),
        "signed_at": (held - timedelta(minutes=1)).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M"),
    }
    r = client.post(f"/cases/{cid}/agreement/signed", data=form, follow_redirects=True)
    assert "签署时间不能早于当事人达成协议的第1次调解" in _flash(r.text)
    assert staff.get(f"/cases/{cid}").json()["stage"] == "agreed"
    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()})
    assert r.status_code == 200, r.text
