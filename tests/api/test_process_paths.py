"""Real cases walked through the contract's routes and the flows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.db import session_scope
from models.notification import Notification
from runtime.relay import drain
from tests.factories import neighbor_case, supply_identity, wage_case
from tests.support.pdf import archived_pdf_texts

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


def _now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def test_happy_path_wage_arrears(engine, as_user, experts, users):
    staff = as_user("clerk")
    r = staff.post("/cases", wage_case())
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["case_no"].startswith("瑞调〔") and case["case_no"].endswith("00001号")
    assert case["stage"] == "registered" and case["is_mass"] is True
    assert case["risk_level"] == "high" and case["escalation_level"] == 1
    assert case["clock"] == "labor"
    cid = case["id"]
    drain(engine)
    docs = staff.get(f"/cases/{cid}/documents").json()
    assert [d["kind"] for d in docs] == ["application", "supervision_order"]

    r = staff.post(f"/cases/{cid}/accept", {})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "accepted"

    proposal = staff.post(f"/cases/{cid}/panel/proposal", {}).json()
    kinds = {c["kind"] for c in proposal["candidates"]}
    assert {"lawyer", "department"} <= kinds or {"judge", "department"} <= kinds
    excluded = {e["expert_id"]: e["reason"] for e in proposal["excluded"]}
    assert "同一单位" in excluded[experts["conflicted"]]
    assert all(c["reasons"] for c in proposal["candidates"])
    members = [{"expert_id": c["expert_id"], "role": c["role"]} for c in proposal["candidates"]]
    r = staff.put(f"/cases/{cid}/panel", {"members": members})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "panel_formed"

    sessions = []
    for i in range(4):
        r = staff.post(
            f"/cases/{cid}/sessions",
            {"scheduled_at": _now_iso(timedelta(days=i + 1)), "location": "第一调解室"},
        )
        assert r.status_code == 201, r.text
        sessions.append(r.json()["id"])
    for i, sid in enumerate(sessions):
        outcome = "agreed" if i == 3 else "continue"
        r = staff.post(
            f"/cases/{cid}/sessions/{sid}/record",
            {
                "held_at": _now_iso(),
                # The company is bound only if it took part (flows.agreement.binding_problem).
                "attendees": ["工人00", "瑞安市某建设有限公司"],
                "notes": f"第{i + 1}次调解。",
                "outcome": outcome,
            },
        )
        assert r.status_code == 200, r.text
    assert staff.get(f"/cases/{cid}").json()["stage"] == "agreed"

    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    r = staff.post(
        f"/cases/{cid}/agreement",
        {
            "terms": [
                {
                    "obligor": "瑞安市某建设有限公司",
                    "obligee": "工人00",
                    "obligation": "支付拖欠工资",
                    "amount": "320000.00",
                    "due_date": due,
                }
            ],
            "performance_method": "银行转账至各申请人账户",
            "performance_place": "瑞安市",
        },
    )
    assert r.status_code == 201, r.text
    drain(engine)
    detail = staff.get(f"/cases/{cid}").json()
    assert detail["agreement"]["document"]["kind"] == "agreement"
    pdf = staff.get(detail["agreement"]["document"]["url"].removeprefix("/api/v1"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _now_iso()})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "follow_up"
    r = staff.post(f"/cases/{cid}/follow-ups", {"performed": True, "notes": "已全部支付"})
    assert r.status_code == 201, r.text
    # v1.1: a follow-up never closes the case; 结案 is a decision.
    assert r.json()["case"]["stage"] == "follow_up"
    # Only 工人00 came: the other 16 workers' ID copies go into the 卷宗 before 结案 (issue 22).
    r = staff.post(f"/cases/{cid}/close", {"kind": "performed", "note": "协议全部履行"})
    assert r.status_code == 409 and "工人16" in r.text
    assert supply_identity(engine, cid, actor_id=users["clerk"]) == 16
    r = staff.post(f"/cases/{cid}/close", {"kind": "performed", "note": "协议全部履行"})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "closed" and r.json()["close_kind"] == "performed"
    drain(engine)
    final = staff.get(f"/cases/{cid}").json()
    kinds = [d["kind"] for d in final["documents"]]
    for kind in ("application", "acceptance_notice", "session_record", "agreement", "follow_up_record"):
        assert kind in kinds
    assert kinds.count("session_record") == 4
    actions = [t["action"] for t in final["timeline"]]
    assert actions[0] == "case.register" and "case.close" in actions


def test_rejection(engine, as_user, experts):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    r = staff.post(f"/cases/{cid}/reject", {"reason": "该纠纷已由人民法院受理（人民调解法第十八条）"})
    assert r.status_code == 200 and r.json()["stage"] == "rejected"
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 409
    drain(engine)
    assert "rejection_notice" in [d["kind"] for d in staff.get(f"/cases/{cid}/documents").json()]


def _to_first_session(staff, cid, experts) -> int:
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    members = [
        {"expert_id": experts["mediator_tangxia"], "role": "lead"},
        {"expert_id": experts["elder_tangxia"], "role": "member"},
    ]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    r = staff.post(
        f"/cases/{cid}/sessions", {"scheduled_at": _now_iso(timedelta(days=1)), "location": "塘下镇调解室"}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_failure_issues_termination_notice_and_closes(engine, as_user, experts):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    sid = _to_first_session(staff, cid, experts)
    r = staff.post(
        f"/cases/{cid}/sessions/{sid}/record",
        {
            "held_at": _now_iso(),
            "attendees": ["陈阿大", "林小二"],
            "notes": "双方分歧较大。",
            "outcome": "failed",
        },
    )
    assert r.status_code == 200 and r.json()["case"]["stage"] == "failed"
    drain(engine)
    case = staff.get(f"/cases/{cid}").json()
    assert case["stage"] == "closed" and case["outcome"] == "failed"
    assert "termination_notice" in [d["kind"] for d in case["documents"]]


def test_withdrawal(engine, as_user, experts):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    sid = _to_first_session(staff, cid, experts)
    r = staff.post(
        f"/cases/{cid}/sessions/{sid}/record",
        {"held_at": _now_iso(), "attendees": ["陈阿大"], "notes": "申请人撤回申请。", "outcome": "withdrawn"},
    )
    assert r.status_code == 200
    drain(engine)
    case = staff.get(f"/cases/{cid}").json()
    assert case["stage"] == "closed" and case["outcome"] == "withdrawn"


def test_recusal_replaces_the_expert(engine, as_user, experts):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    _to_first_session(staff, cid, experts)
    r = staff.post(
        f"/cases/{cid}/recusals", {"expert_id": experts["elder_tangxia"], "reason": "系申请人近亲属"}
    )
    assert r.status_code == 200, r.text
    panel = r.json()["panel"]
    ids = [m["expert_id"] for m in panel]
    assert experts["elder_tangxia"] not in ids and len(ids) == 2
    proposal = staff.post(f"/cases/{cid}/panel/proposal", {}).json()
    assert any(
        e["expert_id"] == experts["elder_tangxia"] and "回避" in e["reason"] for e in proposal["excluded"]
    )
    case = staff.get(f"/cases/{cid}").json()
    assert case["recusals"][0]["reason"] == "系申请人近亲属"


def test_unperformed_agreement_is_flagged_with_the_legal_path(engine, as_user, experts):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    sid = _to_first_session(staff, cid, experts)
    staff.post(
        f"/cases/{cid}/sessions/{sid}/record",
        {
            "held_at": _now_iso(),
            "attendees": ["陈阿大", "林小二"],
            "notes": "达成一致。",
            "outcome": "agreed",
        },
    )
    due = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    terms = [
        {"obligor": "林小二", "obligee": "陈阿大", "obligation": "拆除雨棚", "due_date": due},
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "赔偿损失",
            "amount": "1500.00",
            "due_date": due,
        },
    ]
    body = {"terms": terms, "performance_method": "当面履行", "performance_place": "罗凤村"}
    r = staff.post(f"/cases/{cid}/agreement", body)
    assert r.status_code == 201
    drain(engine)
    assert staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _now_iso()}).status_code == 200
    drain(engine)
    notes = as_user("clerk").get("/notifications").json()
    assert any("履行期限" in n["text"] for n in notes["items"])
    term_ids = [t["id"] for t in staff.get(f"/cases/{cid}").json()["agreement"]["terms"]]
    r = staff.post(
        f"/cases/{cid}/follow-ups", {"performed": True, "term_id": term_ids[0], "notes": "雨棚已拆除"}
    )
    assert r.json()["case"]["stage"] == "follow_up"
    r = staff.post(
        f"/cases/{cid}/follow-ups", {"performed": False, "term_id": term_ids[1], "notes": "拒不赔偿"}
    )
    case = r.json()["case"]
    assert case["stage"] == "follow_up" and case["flagged"] and "司法确认" in case["flag_reason"]
    detail = staff.get(f"/cases/{cid}").json()
    assert detail["agreement"]["judicial_confirmation"]["due"]
    r = staff.post(f"/cases/{cid}/follow-ups", {"performed": True, "term_id": term_ids[1], "notes": "已赔偿"})
    assert r.json()["case"]["stage"] == "follow_up" and r.json()["case"]["flagged"] is False


def test_ink_only_marriage_agreement_and_correction_is_a_new_version(engine, as_user, experts):
    staff = as_user("clerk")
    body = neighbor_case(category="marriage_family", summary="离婚后子女抚养费支付争议。")
    cid = staff.post("/cases", body).json()["id"]
    sid = _to_first_session(staff, cid, experts)
    staff.post(
        f"/cases/{cid}/sessions/{sid}/record",
        {
            "held_at": _now_iso(),
            "attendees": ["陈阿大", "林小二"],
            "notes": "达成一致。",
            "outcome": "agreed",
        },
    )
    due = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    terms = [
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "每月支付抚养费",
            "amount": "2000.00",
            "due_date": due,
        }
    ]
    body = {"terms": terms, "performance_method": "银行转账", "performance_place": "瑞安市"}
    first = staff.post(f"/cases/{cid}/agreement", body).json()
    assert first["ink_only"] is True
    drain(engine)
    terms[0]["amount"] = "2500.00"
    staff.post(f"/cases/{cid}/agreement", body)
    drain(engine)
    docs = [d for d in staff.get(f"/cases/{cid}/documents").json() if d["kind"] == "agreement"]
    assert (
        len(docs) == 2
        and docs[1]["supersedes_id"] == docs[0]["id"]
        and docs[0]["sha256"] != docs[1]["sha256"]
    )
    detail = staff.get(f"/cases/{cid}").json()
    assert detail["agreement"]["document"]["id"] == docs[1]["id"]
    assert detail["agreement"]["terms"][0]["amount"] == "2500.00"


def test_verify_is_public_and_says_nothing_personal(engine, client, as_user):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    drain(engine)
    doc = staff.get(f"/cases/{cid}/documents").json()[0]
    case_no = staff.get(f"/cases/{cid}").json()["case_no"]
    for value in (doc["sha256"], doc["verify_code"], doc["verify_code"].replace("-", "").lower()):
        r = client.get(f"/verify/{value}")
        assert r.status_code == 200, value
        body = r.json()
        assert body["valid"] and body["kind"] == "application" and body["case_no"] == case_no
        text = r.text
        assert "陈阿大" not in text and "330381" not in text and "1390577" not in text
    assert client.get("/verify/" + "0" * 64).status_code == 404
    assert client.get("/verify/not-a-code").status_code == 404
    # The archived file is the one fingerprinted.
    import hashlib

    pdf = staff.get(f"/documents/{doc['id']}/pdf")
    assert hashlib.sha256(pdf.content).hexdigest() == doc["sha256"]


def test_clocks_stop_when_mediation_ends_and_judicial_confirmation_window_opens(engine, as_user, experts):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    sid = _to_first_session(staff, cid, experts)
    clocks = staff.get(f"/cases/{cid}").json()["clocks"]
    assert clocks[0]["clock"] == "people_mediation" and not clocks[0]["ended"] and clocks[0]["days_left"] > 0
    staff.post(
        f"/cases/{cid}/sessions/{sid}/record",
        {
            "held_at": _now_iso(),
            "attendees": ["陈阿大", "林小二"],
            "notes": "达成一致。",
            "outcome": "agreed",
        },
    )
    staff.post(
        f"/cases/{cid}/agreement",
        {
            "terms": [
                {
                    "obligor": "林小二",
                    "obligee": "陈阿大",
                    "obligation": "拆除雨棚",
                    "due_date": _now_iso(timedelta(days=10))[:10],
                }
            ],
            "performance_method": "当面履行",
            "performance_place": "罗凤村",
        },
    )
    drain(engine)
    staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _now_iso()})
    clocks = {c["clock"]: c for c in staff.get(f"/cases/{cid}").json()["clocks"]}
    assert clocks["people_mediation"]["ended"] and clocks["people_mediation"]["days_left"] is None
    jc = clocks["judicial_confirmation"]
    assert 30 <= jc["days_left"] <= 40 and "第三十三条" in jc["basis"]


def test_an_amount_at_the_bound_goes_through_every_flow_and_prints(engine, as_user, experts):
    """99,999,999,999,999.99 元 (models.money.MAX_AMOUNT, written out here): the intake flow makes the
    申请书, the agreement flow the 协议书 with the amount in figures and capitals; nothing is flagged."""
    bound = "99999999999999.99"
    staff = as_user("clerk")
    r = staff.post("/cases", neighbor_case(amount_involved=bound))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    drain(engine)
    case = staff.get(f"/cases/{cid}").json()
    assert case["amount_involved"] == bound and not case["flagged"], case["flag_reason"]
    [application] = archived_pdf_texts(engine, cid, "application")
    assert "涉及金额99,999,999,999,999.99元" in application

    sid = _to_first_session(staff, cid, experts)
    r = staff.post(
        f"/cases/{cid}/sessions/{sid}/record",
        {
            "held_at": _now_iso(),
            "attendees": ["陈阿大", "林小二"],
            "notes": "双方达成一致。",
            "outcome": "agreed",
        },
    )
    assert r.status_code == 200, r.text
    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    r = staff.post(
        f"/cases/{cid}/agreement",
        {
            "terms": [
                {
                    "obligor": "林小二",
                    "obligee": "陈阿大",
                    "obligation": "赔偿损失",
                    "amount": bound,
                    "due_date": due,
                }
            ],
            "performance_method": "银行转账",
            "performance_place": "瑞安市塘下镇",
        },
    )
    assert r.status_code == 201, r.text
    drain(engine)
    case = staff.get(f"/cases/{cid}").json()
    assert not case["flagged"], case["flag_reason"]
    assert [t["amount"] for t in case["agreement"]["terms"]] == [bound]
    [agreement] = archived_pdf_texts(engine, cid, "agreement")
    assert (
        "金额：人民币99,999,999,999,999.99元（大写：人民币玖拾玖万玖仟玖佰玖拾玖亿"
        "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分）"
    ) in agreement


def test_a_recused_lawyer_no_longer_reads_the_case_in_notifications(engine, as_user, experts):
    """Seated, the lawyer was told the case's number ("您已被列入 … 调解专班"); recused, they no longer
    see the case, and their old notifications about it go with it (list and mark-read). Those about
    the case they still sit on, and those about no case, stay."""
    staff, lawyer = as_user("clerk"), as_user("zhoulawyer")
    members = [
        {"expert_id": experts["mediator_tangxia"], "role": "lead"},
        {"expert_id": experts["lawyer"], "role": "legal_advisor"},
    ]
    cases = []
    for _ in range(2):
        cid = staff.post("/cases", neighbor_case()).json()["id"]
        assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
        assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
        cases.append(staff.get(f"/cases/{cid}").json())
    with session_scope(engine, write=True) as session:
        session.add(Notification(key="test:no-case", expert_id=experts["lawyer"], text="专家库信息请核对"))
    drain(engine)
    recused, kept = cases

    def told() -> list[dict]:
        body = lawyer.get("/notifications", params={"limit": 200}).json()
        assert body["total"] == len(body["items"])
        return body["items"]

    before = told()
    about_recused = [n for n in before if n["case_id"] == recused["id"]]
    assert about_recused and all(recused["case_no"] in n["text"] for n in about_recused)
    r = staff.post(
        f"/cases/{recused['id']}/recusals", {"expert_id": experts["lawyer"], "reason": "曾担任一方代理人"}
    )
    assert r.status_code == 200, r.text
    drain(engine)
    after = told()
    assert not [n for n in after if n["case_id"] == recused["id"] or recused["case_no"] in n["text"]]
    assert [n for n in after if n["case_id"] == kept["id"] and kept["case_no"] in n["text"]]
    assert [n for n in after if n["case_id"] is None and n["text"] == "专家库信息请核对"]
    assert lawyer.post(f"/notifications/{about_recused[0]['id']}/read").status_code == 404
    assert not [n for n in told() if n["read"]]
