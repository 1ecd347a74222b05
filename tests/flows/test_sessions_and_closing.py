"""Sessions rescheduled and cancelled (numbered by date, never before registration, no double booking),
follow-ups with per-term state, and 结案 as a decision (with the director's approval where the center
requires it). Domain functions with an explicit clock, then the JSON routes of CONTRACT v1.1; on SQLite
and, when configured, PostgreSQL (the `engine` fixture).

Dates: the case is registered Mon 2 Nov 2026 09:00 China time; sessions are set later that month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from flows import closing, sessions
from models.audit import AuditEvent
from models.center_settings import forget_cached, set_value
from models.closing import CaseClosing
from models.db import session_scope, utcnow
from models.lifecycle import Forbidden, InvalidInput, TransitionNotAllowed
from models.mediation_session import MediationSession
from models.user import User
from runtime.relay import drain
from tests.factories import load_case, neighbor_case, supply_identity
from tests.support.clock import CHINA, in_month
from tests.support.pdf import pdf_compact
from tests.support.scenario import Scenario

at = in_month(2026, 11)  # at(day, hour=10, minute=0)
REGISTERED = at(2, 9)


def case_with_panel(engine, users, experts, *, summary: str | None = None) -> Scenario:
    """A neighbour case registered at REGISTERED, accepted an hour later, its panel (李调解 leading,
    陈乡贤) an hour after that."""
    body = neighbor_case(**({"summary": summary} if summary else {}))
    s = Scenario(engine, clerk=users["clerk"], experts=experts, start=REGISTERED)
    return s.registered(body).accepted().panel("mediator_tangxia", "elder_tangxia")


def schedule(s: Scenario, when: datetime, room: str = "塘下镇调解室") -> int:
    return s.scheduled(when, location=room, now=REGISTERED + timedelta(hours=3)).session


def numbers(engine, cid: int) -> dict[int, int | None]:
    with Session(engine) as s:
        rows = s.exec(select(MediationSession).where(MediationSession.case_id == cid)).all()
        return {r.id: r.seq for r in rows}


def hold(s: Scenario, sid: int, when: datetime, outcome: str = "continue") -> None:
    s.held(when, outcome=outcome, attendees=["陈阿大", "林小二"], notes="双方陈述意见。", session_id=sid)


def test_sessions_are_numbered_by_date_and_a_held_number_never_changes(engine, users, experts):
    case = case_with_panel(engine, users, experts)
    cid = case.case
    late = schedule(case, at(10))
    early = schedule(case, at(5))
    middle = schedule(case, at(7))
    # Entered late → early → middle; numbered by date.
    assert numbers(engine, cid) == {early: 1, middle: 2, late: 3}

    hold(case, early, at(5))
    case.act(
        sessions.reschedule_session,
        now=at(6),
        session_id=middle,
        scheduled_at=at(12),
        location=None,
        reason="被申请人出差",
    )
    assert numbers(engine, cid) == {early: 1, late: 2, middle: 3}

    case.act(sessions.cancel_session, now=at(6), session_id=late, reason="改为书面沟通")
    assert numbers(engine, cid) == {early: 1, late: None, middle: 2}

    # A session put before the held one (a visit entered afterwards) takes the next free number: the
    # held 第1次 keeps its number, which its 调解笔录 already prints.
    backdated = schedule(case, at(4))
    assert numbers(engine, cid) == {early: 1, late: None, middle: 3, backdated: 2}


def test_reschedule_keeps_history_and_refuses_before_registration_and_double_booking(engine, users, experts):
    case = case_with_panel(engine, users, experts)
    sid = schedule(case, at(5))

    def reschedule(when: datetime, room: str | None = None, reason: str = "当事人申请改期"):
        return case.act(
            sessions.reschedule_session,
            now=at(3),
            session_id=sid,
            scheduled_at=when,
            location=room,
            reason=reason,
        )

    with pytest.raises(InvalidInput) as before:
        reschedule(at(2, 8))
    assert before.value.field == "scheduled_at" and "2026-11-02 09:00" in before.value.message
    with pytest.raises(InvalidInput) as new_before:
        schedule(case, at(1, 15))
    assert "登记时间" in new_before.value.message

    # Another case with the same lead mediator (李调解), in another room, on 6 Nov 10:00–12:00.
    other = case_with_panel(engine, users, experts, summary="另一起相邻通行纠纷。")
    other_sid = schedule(other, at(6), room="第二调解室")
    with pytest.raises(InvalidInput) as expert_busy:
        reschedule(at(6, 11), room="第一调解室")
    assert "李调解在该时段已有其他调解安排" in expert_busy.value.message

    # Overlapping its own old slot is no conflict: the session is not double-booked with itself.
    moved = reschedule(at(5, 11), reason="调解员上午另有公务")
    assert moved.scheduled_at == at(5, 11) and moved.ends_at == at(5, 13)

    # Once the other case's session is cancelled, its room and its experts are free.
    other.act(sessions.cancel_session, now=at(3), session_id=other_sid, reason="申请人撤回调解申请")
    reschedule(at(6), room="第二调解室", reason="改到第二调解室")

    with Session(engine) as s:
        ms = s.get(MediationSession, sid)
        assert (ms.scheduled_at, ms.location) == (at(6), "第二调解室")
        history = [
            (datetime.fromisoformat(h["scheduled_at"]), h["location"], h["reason"]) for h in ms.reschedules
        ]
        assert history == [
            (at(5), "塘下镇调解室", "调解员上午另有公务"),
            (at(5, 11), "塘下镇调解室", "改到第二调解室"),
        ]
        assert all(h["by"] == "蔡受理" for h in ms.reschedules)
        audit = s.exec(
            select(AuditEvent).where(AuditEvent.action == "session.reschedule", AuditEvent.entity_id == sid)
        ).all()
        assert [a.after["reason"] for a in audit] == ["调解员上午另有公务", "改到第二调解室"]
        assert datetime.fromisoformat(audit[0].before["scheduled_at"]) == at(5)

    # A held session is the record of what happened: it cannot be moved or cancelled.
    hold(case, sid, at(6))
    with pytest.raises(TransitionNotAllowed):
        reschedule(at(9))
    with pytest.raises(TransitionNotAllowed):
        case.act(sessions.cancel_session, now=at(7), session_id=sid, reason="x")


def test_follow_up_with_a_term_not_yet_due_does_not_close_and_closing_is_a_decision(
    engine, as_user, users, experts
):
    staff = as_user("clerk")
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts)
    cid = s.registered().accepted().panel("mediator_tangxia", "elder_tangxia").case
    s.scheduled(utcnow() + timedelta(days=1), location="塘下镇调解室")
    s.agreed(utcnow(), attendees=["陈阿大", "林小二"], notes="达成一致。", now=utcnow())
    today = datetime.now(CHINA).date()
    near, far = (today + timedelta(days=5)).isoformat(), (today + timedelta(days=60)).isoformat()
    terms = [
        {"obligor": "林小二", "obligee": "陈阿大", "obligation": "拆除雨棚", "due_date": near},
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "赔偿损失",
            "amount": "1500.00",
            "due_date": far,
        },
    ]
    s.issued(terms, now=utcnow(), method="当面履行", place="塘下镇罗凤村").signed(now=utcnow())
    term_ids = [t["id"] for t in staff.get(f"/cases/{cid}").json()["agreement"]["terms"]]

    visited = datetime.now(UTC).isoformat()
    r = staff.post(
        f"/cases/{cid}/follow-ups",
        {
            "visited_at": visited,
            "method": "visit",
            "visited_person": "陈阿大",
            "opinion": "雨棚已拆，赔偿款约定到期再付",
            "terms": [
                {"term_id": term_ids[0], "state": "performed"},
                {"term_id": term_ids[1], "state": "not_due"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    visit = r.json()
    assert visit["case"]["stage"] == "follow_up" and visit["case"]["flagged"] is False
    assert (visit["method"], visit["method_label"], visit["visited_person"]) == (
        "visit",
        "上门回访",
        "陈阿大",
    )
    assert [(t["seq"], t["state"], t["state_label"]) for t in visit["terms"]] == [
        (1, "performed", "已履行"),
        (2, "not_due", "未到履行期"),
    ]
    assert visit["performed"] is False and visit["visited_at"] == datetime.fromisoformat(visited).isoformat()
    detail = staff.get(f"/cases/{cid}").json()
    assert [(t["seq"], t["due_date"], t["state"]) for t in detail["still_due"]] == [(2, far, "not_due")]

    # The 回访记录 prints the visit as recorded: date, method, person, opinion, each term's state.
    drain(engine)
    docs = [d for d in staff.get(f"/cases/{cid}/documents").json() if d["kind"] == "follow_up_record"]
    pdf = staff.get(docs[-1]["url"].removeprefix("/api/v1"))
    # Without any whitespace: a narrow cell wraps a label ("未到履行 期").
    text = pdf_compact(pdf.content)
    for expected in (
        "回访方式上门回访",
        "被回访人陈阿大",
        "当事人意见雨棚已拆，赔偿款约定到期再付",
        # Issue 10: each term with its obligee, amount and deadline.
        f"第1项：林小二向陈阿大拆除雨棚（履行期限{_cn(near)}）已履行",
        f"第2项：林小二向陈阿大赔偿损失人民币1,500.00元（履行期限{_cn(far)}）未到履行期",
    ):
        assert expected in text, expected

    # The v1.0 body still works: the named term found performed; the case still waits for the 结案.
    r = staff.post(f"/cases/{cid}/follow-ups", {"performed": True, "term_id": term_ids[1], "notes": "已赔偿"})
    assert r.status_code == 201, r.text
    assert r.json()["case"]["stage"] == "follow_up" and r.json()["terms"][0]["state"] == "performed"
    assert staff.get(f"/cases/{cid}").json()["still_due"] == []

    bad = staff.post(f"/cases/{cid}/close", {"kind": "oral_performed"})
    assert bad.status_code == 409 and "履行回访" in bad.json()["detail"]
    closed = staff.post(f"/cases/{cid}/close", {"kind": "performed", "note": "协议全部履行"})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["stage"], body["close_kind"], body["close_kind_label"], body["close_pending"]) == (
        "closed",
        "performed",
        "履行完毕",
        False,
    )
    assert body["outcome"] == "agreed" and body["closed_at"]
    assert staff.post(f"/cases/{cid}/close", {"kind": "performed"}).status_code == 409


def _cn(iso: str) -> str:
    day = datetime.fromisoformat(iso)
    return f"{day.year}年{day.month}月{day.day}日"


def test_sessions_over_the_api_reschedule_cancel_and_their_chinese_refusals(engine, as_user, users, experts):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    registered = datetime.fromisoformat(staff.get(f"/cases/{cid}").json()["created_at"])
    staff.post(f"/cases/{cid}/accept", {})
    members = [{"expert_id": experts["mediator_tangxia"], "role": "lead"}]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    first_at = registered + timedelta(days=3)
    second_at = registered + timedelta(days=2)
    first = staff.post(
        f"/cases/{cid}/sessions", {"scheduled_at": first_at.isoformat(), "location": "第一调解室"}
    ).json()
    second = staff.post(
        f"/cases/{cid}/sessions", {"scheduled_at": second_at.isoformat(), "location": "第一调解室"}
    ).json()
    assert (first["seq"], second["seq"]) == (1, 1)  # each answered with its number at that moment
    seqs = {s["id"]: s["seq"] for s in staff.get(f"/cases/{cid}").json()["sessions"]}
    assert seqs == {second["id"]: 1, first["id"]: 2}

    early = staff.post(
        f"/cases/{cid}/sessions",
        {"scheduled_at": (registered - timedelta(hours=1)).isoformat(), "location": "第一调解室"},
    )
    assert early.status_code == 422 and "不能早于案件登记时间" in str(early.json()["detail"])

    missing_reason = staff.patch(
        f"/cases/{cid}/sessions/{first['id']}", {"scheduled_at": (registered + timedelta(days=4)).isoformat()}
    )
    assert missing_reason.status_code == 422
    clash = staff.patch(
        f"/cases/{cid}/sessions/{first['id']}",
        {"scheduled_at": (second_at + timedelta(minutes=30)).isoformat(), "reason": "提前"},
    )
    assert clash.status_code == 422 and "第一调解室在该时段已有调解安排" in str(clash.json()["detail"])
    new_at = registered + timedelta(days=1)
    moved = staff.patch(
        f"/cases/{cid}/sessions/{first['id']}",
        {"scheduled_at": new_at.isoformat(), "location": "第三调解室", "reason": "申请人要求提前"},
    )
    assert moved.status_code == 200, moved.text
    m = moved.json()
    assert (m["seq"], m["location"], m["status"]) == (1, "第三调解室", "scheduled")
    assert [
        (datetime.fromisoformat(r["scheduled_at"]), r["location"], r["reason"]) for r in m["reschedules"]
    ] == [(first_at, "第一调解室", "申请人要求提前")]

    cancelled = staff.post(f"/cases/{cid}/sessions/{second['id']}/cancel", {"reason": "双方已自行协商"})
    assert cancelled.status_code == 200, cancelled.text
    c = cancelled.json()
    assert (c["status"], c["status_label"], c["seq"], c["cancel_reason"]) == (
        "cancelled",
        "已取消",
        None,
        "双方已自行协商",
    )
    again = staff.post(f"/cases/{cid}/sessions/{second['id']}/cancel", {"reason": "重复"})
    assert again.status_code == 409 and "已" in again.json()["detail"] and "取消" in again.json()["detail"]
    record = staff.post(
        f"/cases/{cid}/sessions/{second['id']}/record",
        {
            "held_at": datetime.now(UTC).isoformat(),
            "attendees": ["陈阿大"],
            "notes": "x",
            "outcome": "continue",
        },
    )
    assert record.status_code == 409
    detail = staff.get(f"/cases/{cid}").json()
    assert [(s["id"], s["seq"], s["status"]) for s in detail["sessions"]] == [
        (first["id"], 1, "scheduled"),
        (second["id"], None, "cancelled"),
    ]


@pytest.fixture
def approval_required(engine, users):
    """The center requires the director's 结案审批 (the settings cache is per database URL, and PostgreSQL
    tests share one: forget it afterwards)."""

    def turn_on() -> None:
        with session_scope(engine, write=True) as s:
            set_value(s, key="close_requires_approval", value=1, actor=s.get(User, users["admin"]))

    yield turn_on
    forget_cached()


def test_closing_waits_for_the_directors_approval_when_the_center_requires_it(
    engine, as_user, users, experts, approval_required
):
    approval_required()
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    staff.post(f"/cases/{cid}/accept", {})
    # The 卷宗 holds the application, the 受理通知书 and the applicant's ID copy (issue 22).
    drain(engine)
    supply_identity(engine, cid, actor_id=users["clerk"])
    # 撤回 decided while the case is only accepted: it waits for the director.
    pending = staff.post(f"/cases/{cid}/close", {"kind": "withdrawn", "note": "申请人书面撤回调解申请"})
    assert pending.status_code == 200, pending.text
    p = pending.json()
    assert (p["stage"], p["close_kind"], p["close_pending"]) == ("accepted", "withdrawn", True)
    detail = staff.get(f"/cases/{cid}").json()
    assert detail["closing"]["pending"] is True and detail["closing"]["requested_by"] == "蔡受理"

    assert staff.post(f"/cases/{cid}/close/approve", {}).status_code == 403
    town = as_user("yuhai")
    assert town.post(f"/cases/{cid}/close/approve", {}).status_code in (403, 404)
    approved = as_user("director").post(f"/cases/{cid}/close/approve", {"note": "同意结案"})
    assert approved.status_code == 200, approved.text
    a = approved.json()
    assert (a["stage"], a["close_kind"], a["close_pending"], a["outcome"]) == (
        "closed",
        "withdrawn",
        False,
        "withdrawn",
    )
    closing_row = staff.get(f"/cases/{cid}").json()["closing"]
    assert (closing_row["approved_by"], closing_row["approval_note"], closing_row["pending"]) == (
        "中心主任",
        "同意结案",
        False,
    )
    assert as_user("director").post(f"/cases/{cid}/close/approve", {}).status_code == 409
    # A 撤回 decided without a session that ended so gets its 终止调解告知书 (人民调解法 第26条).
    drain(engine)
    kinds = [d["kind"] for d in staff.get(f"/cases/{cid}/documents").json()]
    assert kinds.count("termination_notice") == 1


def test_a_failed_session_files_the_closing_for_approval_and_other_kinds_have_their_conditions(
    engine, users, experts, approval_required
):
    case = case_with_panel(engine, users, experts)
    cid = case.case
    # 口头协议履行 needs an oral agreement recorded in a 调解笔录 (人民调解法 第28条): not before mediating.
    with pytest.raises(TransitionNotAllowed) as oral:
        case.act(closing.close_case, now=at(3), kind="oral_performed", note=None)
    assert "不能以“口头协议履行”结案" in oral.value.message  # only once a session was held
    with pytest.raises(InvalidInput) as transferred:
        case.act(closing.close_case, now=at(3), kind="transferred", note=None)
    assert transferred.value.field == "note"
    with pytest.raises(Forbidden):
        case.act(closing.close_case, now=at(3), by=users["director"], kind="failed", note="x")

    approval_required()
    sid = schedule(case, at(5))
    hold(case, sid, at(5), outcome="failed")
    drain(engine)
    loaded = load_case(engine, cid)
    # The 终止调解告知书 is out; the 结案 of kind 调解不成 waits for the director.
    assert (loaded.stage, loaded.close_kind) == ("failed", "failed")
    with Session(engine) as s:
        rows = s.exec(
            select(CaseClosing).where(CaseClosing.case_id == cid).order_by(col(CaseClosing.id))
        ).all()
        assert [(r.kind, r.requested_by, r.needs_approval, r.approved_at) for r in rows] == [
            ("failed", None, True, None)
        ]
    case.act(closing.approve_close, now=at(9), by=users["director"], note=None)
    loaded = load_case(engine, cid)
    assert (loaded.stage, loaded.close_kind, loaded.outcome) == ("closed", "failed", "failed")
