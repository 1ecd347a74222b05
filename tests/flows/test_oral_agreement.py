"""Oral agreements (人民调解法 第28条: "当事人认为无需制作调解协议书的，可以采取口头协议方式，人民调解员应当
记录协议内容"): recorded in the 人民调解记录 of the session where they were reached, with their content, each
party's consent and their performance; a case closes on one once performed; a party's request turns it
into a written 人民调解协议书 made from its terms. Domain functions with an explicit clock, the JSON
routes and the page forms, with the issued PDFs read back; SQLite and, when configured, PostgreSQL.

Dates: the neighbour case is registered Mon 2 Nov 2026 09:00 China time; the session is Thu 5 Nov."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from flows.agreement import record_oral_performance, request_written_agreement
from flows.closing import close_case
from models.agreement import OralAgreement
from models.lifecycle import InvalidInput, TransitionNotAllowed
from models.mediation_session import MediationSession
from runtime.relay import drain
from tests.factories import (
    load_case,
    neighbor_case,
)
from tests.support.clock import CHINA, in_year
from tests.support.pdf import archived_pdf_texts
from tests.support.scenario import Scenario

at = in_year(2026)  # at(month, day, hour=10)


@pytest.fixture
def world(engine):
    s = Scenario(engine).registered().accepted().panel("mediator_tangxia", "elder_tangxia")
    s.scheduled(at(11, 5, 9), location="塘下镇调解室", now=at(11, 2, 12))
    return {"clerk": s.clerk, "case": s.case, "session": s.session, "scenario": s}


SPOT = {
    "terms": [
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "赔偿门口地面修复费用",
            "amount": "800.00",
        },
        {"obligor": "林小二", "obligee": "陈阿大", "obligation": "拆除雨棚东侧挡板"},
    ],
    "consents": [
        {"party": "陈阿大", "agrees": True, "words": "同意，不需要写协议书"},
        {"party": "林小二", "agrees": True, "words": "同意"},
    ],
    "performance": "on_the_spot",
    "performance_note": "林小二当场支付800元，陈阿大当场收讫",
}


def hold(engine, world, oral: dict | None, outcome: str = "agreed"):
    """The world's session held Thu 5 Nov 09:00, recorded at 12:00, with `oral` as its oral agreement."""
    return world["scenario"].held(
        at(11, 5, 9),
        outcome=outcome,
        attendees=["陈阿大", "林小二", "李调解"],
        notes=None,
        now=at(11, 5, 12),
        statements=[
            {"speaker": "李调解", "text": "双方是否同意以口头协议方式了结？"},
            {"speaker": "陈阿大", "text": "同意，当场付清就行。"},
        ],
        rights_told=True,
        oral_agreement=oral,
    )


def test_an_oral_agreement_performed_on_the_spot_is_recorded_and_closes_the_case(engine, world) -> None:
    cid = world["case"]
    hold(engine, world, SPOT)
    assert load_case(engine, cid).stage == "agreed"
    drain(engine)
    (record,) = archived_pdf_texts(engine, cid, "session_record")
    # 人民调解法 第28条 cited from the table; the content, each party's consent, the performance.
    assert "口头协议" in record and "《中华人民共和国人民调解法》第二十八条" in record
    assert "1.林小二向陈阿大赔偿门口地面修复费用，金额人民币800.00元（大写：人民币捌佰元整）" in record
    assert "当场履行" in record and "前履行" not in record  # performed on the spot, at the session
    assert "2.林小二向陈阿大拆除雨棚东侧挡板" in record
    assert "各方当事人意见：申请人陈阿大：同意，不需要写协议书；被申请人林小二：同意。" in record
    assert "履行情况：各方当事人当场履行完毕（林小二当场支付800元，陈阿大当场收讫）。" in record
    assert "调解结果：达成协议（口头协议）。" in record

    world["scenario"].act(close_case, now=at(11, 5, 13), kind="oral_performed", note=None)
    case = load_case(engine, cid)
    assert (case.stage, case.close_kind, case.outcome) == ("closed", "oral_performed", "agreed")


def test_an_oral_agreement_performed_later_closes_only_once_performance_is_recorded(engine, world) -> None:
    cid = world["case"]
    later = {**SPOT, "performance": "later", "performance_note": None}
    with pytest.raises(InvalidInput) as undated:
        hold(engine, world, later)
    assert undated.value.field == "oral_agreement.terms.0.due_date"  # performed later: by when
    dated = {
        **later,
        "terms": [{**t, "due_date": datetime(2026, 11, 20).date()} for t in SPOT["terms"]],
    }
    hold(engine, world, dated)
    with pytest.raises(TransitionNotAllowed) as early:
        world["scenario"].act(close_case, now=at(11, 6), kind="oral_performed", note=None)
    assert "尚未登记履行" in early.value.message
    with pytest.raises(InvalidInput) as before:
        world["scenario"].act(record_oral_performance, now=at(11, 6), performed_at=at(11, 4), note=None)
    assert before.value.field == "performed_at"
    world["scenario"].act(
        record_oral_performance, now=at(11, 19, 16), performed_at=at(11, 19, 15), note="回访确认已付清"
    )
    drain(engine)  # the 人民调解记录 holding the oral agreement is in the 卷宗 before 结案 (issue 22)
    world["scenario"].act(close_case, now=at(11, 19, 17), kind="oral_performed", note=None)
    assert load_case(engine, cid).close_kind == "oral_performed"
    drain(engine)
    (record,) = archived_pdf_texts(engine, cid, "session_record")
    # The record says what was agreed at the session, whenever it is printed.
    assert "于2026年11月20日前履行" in record and "履行情况：约定日后履行（按上列期限履行）。" in record
    assert "履行完毕" not in record and "回访确认已付清" not in record


def test_oral_agreement_needs_every_party_s_consent_and_an_agreed_outcome(engine, world) -> None:
    one_sided = {**SPOT, "consents": [SPOT["consents"][0]]}
    with pytest.raises(InvalidInput) as missing:
        hold(engine, world, one_sided)
    assert "请记录林小二的意见" in missing.value.message
    refused = {**SPOT, "consents": [SPOT["consents"][0], {"party": "林小二", "agrees": False}]}
    with pytest.raises(InvalidInput) as refusal:
        hold(engine, world, refused)
    assert "林小二不同意" in refusal.value.message
    with pytest.raises(InvalidInput) as outcome:
        hold(engine, world, SPOT, outcome="continue")
    assert outcome.value.field == "oral_agreement"
    unclear = {**SPOT, "terms": [{"obligor": "林小二", "obligation": "赔偿"}]}
    with pytest.raises(InvalidInput) as obligee:
        hold(engine, world, unclear)
    assert obligee.value.field == "oral_agreement.terms.0.obligee"
    # Nothing of the refused attempts was kept.
    with Session(engine) as session:
        assert session.exec(select(OralAgreement)).all() == []
    assert load_case(engine, world["case"]).stage == "panel_formed"
    # And no oral agreement: no closing on one.
    hold(engine, world, None)
    with pytest.raises(TransitionNotAllowed) as none:
        world["scenario"].act(close_case, now=at(11, 6), kind="oral_performed", note=None)
    assert "本案未记录口头协议" in none.value.message


def test_a_party_asks_for_a_written_agreement_made_from_the_oral_terms(engine, world) -> None:
    cid = world["case"]
    hold(engine, world, SPOT)
    with pytest.raises(InvalidInput) as stranger:
        world["scenario"].act(
            request_written_agreement,
            now=at(11, 6),
            requested_by="王五",
            performance_method=None,
            performance_place=None,
        )
    assert stranger.value.field == "requested_by"
    world["scenario"].act(
        request_written_agreement,
        now=at(11, 6),
        requested_by="陈阿大",
        performance_method=None,
        performance_place=None,
    )
    drain(engine)
    (agreement,) = archived_pdf_texts(engine, cid, "agreement")
    assert "人民调解协议书" in agreement
    assert "林小二赔偿门口地面修复费用（权利人：陈阿大），于2026年11月5日前履行完毕" in agreement
    assert "人民币800.00元（大写：人民币捌佰元整）" in agreement
    assert "林小二拆除雨棚东侧挡板（权利人：陈阿大）" in agreement
    assert "履行方式当场履行" in agreement and "塘下镇调解室" in agreement
    # The written agreement now governs: signed, followed up and closed as 履行完毕, not on the oral one.
    with pytest.raises(TransitionNotAllowed) as oral:
        world["scenario"].act(close_case, now=at(11, 6, 11), kind="oral_performed", note=None)
    assert "书面调解协议书" in oral.value.message
    with Session(engine) as session:
        row = session.exec(select(OralAgreement)).one()
        assert row.written_requested_by == "陈阿大" and row.agreement_id is not None


def test_oral_agreement_over_the_api_and_the_page(engine, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    members = [{"expert_id": experts["mediator_tangxia"], "role": "lead"}]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sid = staff.post(f"/cases/{cid}/sessions", {"scheduled_at": soon, "location": "塘下镇调解室"}).json()[
        "id"
    ]
    later = (datetime.now(CHINA).date() + timedelta(days=10)).isoformat()
    body = {
        "held_at": datetime.now(UTC).isoformat(),
        "attendees": ["陈阿大", "林小二", "李调解"],
        "recorder": "蔡佳怡",
        "statements": [{"speaker": "陈阿大", "text": "同意口头协议。"}],
        "rights_told": True,
        "party_answers": [{"party": "陈阿大", "answer": "清楚"}, {"party": "林小二", "answer": "清楚"}],
        "outcome": "agreed",
        "oral_agreement": {
            "terms": [
                {
                    "obligor": "林小二",
                    "obligee": "陈阿大",
                    "obligation": "赔偿修复费用",
                    "amount": "800.00",
                    "due_date": later,
                }
            ],
            "consents": [{"party": "陈阿大", "agrees": True}, {"party": "林小二", "agrees": True}],
            "performance": "later",
        },
    }
    bad = staff.post(
        f"/cases/{cid}/sessions/{sid}/record", {**body, "statements": [{"speaker": "王五", "text": "x"}]}
    )
    assert bad.status_code == 422 and "王五" in bad.text
    r = staff.post(f"/cases/{cid}/sessions/{sid}/record", body)
    assert r.status_code == 200, r.text
    held = r.json()
    assert (
        held["recorder_name"] == "蔡佳怡" and held["rights_told"] is True and held["recusal_asked"] is False
    )
    assert [(p["name"], p["capacity"]) for p in held["present"]] == [
        ("陈阿大", "申请人"),
        ("林小二", "被申请人"),
        ("李调解", "调解主持人（人民调解员）"),
    ]
    oral = staff.get(f"/cases/{cid}").json()["oral_agreement"]
    assert (oral["performance"], oral["performed"], oral["terms"][0]["amount"]) == ("later", False, "800.00")

    refused = staff.post(f"/cases/{cid}/close", {"kind": "oral_performed"})
    assert refused.status_code == 409 and "尚未登记履行" in refused.json()["detail"]
    done = staff.post(
        f"/cases/{cid}/oral-agreement/performance",
        {"performed_at": datetime.now(UTC).isoformat(), "note": "已付清"},
    )
    assert done.status_code == 200, done.text
    assert staff.get(f"/cases/{cid}").json()["oral_agreement"]["performed"] is True
    drain(engine)  # the 人民调解记录 holding the oral agreement is in the 卷宗 before 结案 (issue 22)
    closed = staff.post(f"/cases/{cid}/close", {"kind": "oral_performed"})
    assert closed.status_code == 200 and closed.json()["stage"] == "closed"


def test_the_record_form_and_the_written_request_form_on_the_case_page(engine, app, as_user, experts) -> None:
    from fastapi.testclient import TestClient

    from models.agreement import Agreement
    from tests.pages.conftest import csrf_of, login

    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    members = [{"expert_id": experts["mediator_tangxia"], "role": "lead"}]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sid = staff.post(f"/cases/{cid}/sessions", {"scheduled_at": soon, "location": "塘下镇调解室"}).json()[
        "id"
    ]

    with TestClient(app) as browser:
        assert login(browser, "clerk").status_code == 303
        page = browser.get(f"/cases/{cid}/sessions/{sid}/record")
        assert "权利义务告知" in page.text and "口头协议" in page.text
        form = {
            "csrf_token": csrf_of(page.text),
            "held_at": datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M"),
            "attendees": "陈阿大、林小二、李调解",
            "participants": "罗建民：罗凤村村民委员会主任",
            "recorder": "蔡佳怡",
            "rights_told": "1",
            "answer-0-party": "陈阿大",
            "answer-0-text": "听清楚了",
            "answer-1-party": "林小二",
            "answer-1-text": "听清楚了",
            "statements": "李调解：请双方陈述。\n陈阿大：同意当场付清。\n罗建民：村里见证。",
            "outcome": "agreed",
            "oral": "1",
            "oral-0-obligor": "林小二",
            "oral-0-obligee": "陈阿大",
            "oral-0-obligation": "赔偿修复费用",
            "oral-0-amount": "800.00",
            "consent-0-party": "陈阿大",
            "consent-0-agrees": "1",
            "consent-1-party": "林小二",
            "consent-1-agrees": "1",
            "oral_performance": "on_the_spot",
        }
        bad = browser.post(
            f"/cases/{cid}/sessions/{sid}/record",
            data={**form, "statements": "没有发言人"},
            follow_redirects=True,
        )
        # The v1.0 form's lines are still read: a line without "发言人：" comes back beside its row.
        assert bad.status_code == 422
        assert re.search(
            r'name="statement-0-speaker".*?<option value="没有发言人"[^>]*selected.*?'
            r'name="statement-0-text"[^>]*></textarea><span class="field-error"[^>]*>[^<]+</span>',
            bad.text,
            re.S,
        )
        with Session(engine) as session:
            assert session.get(MediationSession, sid).recorded_at is None  # nothing saved
        done = browser.post(f"/cases/{cid}/sessions/{sid}/record", data=form, follow_redirects=True)
        assert "调解笔录已记录（达成协议）" in done.text and 'id="oral-agreement"' in done.text
        assert (
            "已告知权利义务；无人申请回避" in done.text and "发言（3条）：李调解：请双方陈述。" in done.text
        )
        detail = staff.get(f"/cases/{cid}").json()
        held = next(s for s in detail["sessions"] if s["id"] == sid)
        assert [s["speaker"] for s in held["statements"]] == ["李调解", "陈阿大", "罗建民"]
        assert held["present"][-1] == {
            "name": "罗建民",
            "kind": "other",
            "capacity": "罗凤村村民委员会主任",
            "on_behalf_of": None,
        }
        assert detail["oral_agreement"]["performed"] is True

        page = browser.get(f"/cases/{cid}")
        written = browser.post(
            f"/cases/{cid}/oral-agreement/written",
            data={"csrf_token": csrf_of(page.text), "requested_by": "林小二"},
            follow_redirects=True,
        )
        assert "已按口头协议内容制作人民调解协议书" in written.text
    with Session(engine) as session:
        agreement = session.exec(select(Agreement).where(Agreement.case_id == cid)).one()
        assert agreement.performance_method == "当场履行" and agreement.performance_place == "塘下镇调解室"
        oral = session.exec(select(OralAgreement).where(OralAgreement.case_id == cid)).one()
        assert (oral.written_requested_by, oral.agreement_id) == ("林小二", agreement.id)
