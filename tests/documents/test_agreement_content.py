"""The agreement's content (人民调解法 第29条; 民诉解释 第358条(五) refuses an unclear one), who signs it as
人民调解员 (第13、19条), and its notices by regime — read back from PDFs issued from cases in the database
(real action functions, flows drained, pdftotext of the archived file), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from flows.agreement import issue_agreement
from flows.intake import accept_case
from flows.panel_selection import confirm_panel
from flows.sessions import record_session, schedule_session
from models.db import session_scope
from models.expert import Expert
from models.lifecycle import InvalidInput
from runtime.relay import drain
from tests.factories import act, neighbor_case, register, wage_case
from tests.support.clock import CHINA, at
from tests.support.pdf import archived_documents, archived_path, pdf_compact
from tests.support.scenario import office

DUE = date(2026, 12, 15)
COMPANY = "瑞安市某建设有限公司"
# 30-day joint application (人民调解法 第33条, 民诉法 第205条), as printed.
JOINT_APPLICATION = "自本协议生效之日起三十日内，共同向瑞安市人民法院申请司法确认"


def agreement_text(engine, case_id: int) -> str:
    """The latest archived 协议书 of the case, whitespace removed (pdftotext spaces CJK freely)."""
    docs = archived_documents(engine, case_id, "agreement")
    assert docs
    return pdf_compact(archived_path(docs[-1]))


@pytest.fixture
def world(engine):
    return office(engine, "clerk", "recorder")


def _mediated(engine, world, body: dict, members: list[dict]) -> int:
    """Registered Mon 2 Nov 2026, accepted, panel seated, one session held and recorded by 叶记录."""
    clerk, recorder = world["clerk"], world["recorder"]
    cid = register(engine, body, actor_id=clerk, now=at(2026, 11, 2, 9))
    act(engine, accept_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9))
    act(engine, confirm_panel, cid, actor_id=clerk, now=at(2026, 11, 4, 9), members=members)
    ms = act(
        engine,
        schedule_session,
        cid,
        actor_id=clerk,
        now=at(2026, 11, 4, 10),
        scheduled_at=at(2026, 11, 5, 14),
        location="第一调解室",
        duration_minutes=90,
    )
    act(
        engine,
        record_session,
        cid,
        actor_id=recorder,
        now=at(2026, 11, 5, 16),
        session_id=ms.id,
        held_at=at(2026, 11, 5, 14),
        attendees=["申请人", "被申请人"],
        notes="双方达成一致。",
        outcome="agreed",
        consent_to_continue=False,
    )
    return cid


def _issue(engine, world, cid: int, data: dict) -> None:
    act(engine, issue_agreement, cid, actor_id=world["clerk"], now=at(2026, 11, 5, 17), data=data)
    drain(engine)


def test_seventeen_workers_each_with_their_own_amount(engine, world) -> None:
    experts = world["experts"]
    members = [
        {"expert_id": experts["mediator_yuhai"], "role": "lead"},
        {"expert_id": experts["lawyer"], "role": "legal_advisor"},
        {"expert_id": experts["judge"], "role": "member"},
    ]
    cid = _mediated(engine, world, wage_case(claimants=17), members)
    amounts = {f"工人{i:02d}": Decimal(15000 + 500 * i) for i in range(17)}
    terms = [
        {
            "obligor": COMPANY,
            "obligee": name,
            "obligation": "支付2026年7月至10月拖欠工资",
            "amount": amount,
            "due_date": DUE,
        }
        for name, amount in amounts.items()
    ]
    data = {
        "terms": terms,
        "performance_method": "银行转账至各工人本人银行账户",
        "performance_place": "瑞安市玉海街道",
        "responsibility": "被申请人作为用人单位未按时足额支付工资，应承担全部责任。",
    }
    _issue(engine, world, cid, data)
    text = agreement_text(engine, cid)

    # Each worker's own term, with their own amount in figures (and a few in capitals, worked out by hand).
    for name, amount in amounts.items():
        term = re.search(rf"（权利人：{name}）(.*?)(?:（[一二三四五六七八九十]+）|$)", text)
        assert term, name
        assert f"人民币{amount:,.2f}元" in term.group(1), (name, term.group(1)[:80])
    assert text.count(f"{COMPANY}支付2026年7月至10月拖欠工资（权利人：") == 17
    assert "人民币15,000.00元（大写：人民币壹万伍仟元整）" in text  # 工人00
    assert "人民币15,500.00元（大写：人民币壹万伍仟伍佰元整）" in text  # 工人01
    assert "人民币23,000.00元（大写：人民币贰万叁仟元整）" in text  # 工人16
    assert "于2026年12月15日前履行完毕" in text and "履行地点瑞安市玉海街道" in text
    assert "各方当事人的责任" in text and "应承担全部责任" in text

    # 劳动争议调解仲裁法 第15、16、27条, as the statute words them.
    assert "一方当事人在协议约定期限内不履行调解协议的，另一方当事人可以依法申请仲裁" in text
    assert "《中华人民共和国劳动争议调解仲裁法》第十五条" in text
    assert "用人单位在协议约定期限内不履行的，劳动者可以持调解协议书依法向人民法院申请支付令" in text
    assert "《中华人民共和国劳动争议调解仲裁法》第十六条" in text
    assert "劳动争议申请仲裁的时效期间为一年" in text and "对方当事人同意履行义务而中断" in text
    assert "诉讼时效" not in text  # a labor claim runs on 仲裁时效
    # Still open to 司法确认: 人民调解法 第33条 covers it and 民诉解释 第355条 does not exclude labor.
    assert JOINT_APPLICATION in text

    # Only the appointed mediator signs as 人民调解员; the lawyer and the judge assisted (第20条).
    assert "调解主持人（人民调解员）王调解" in text
    assert "协助调解人（律师）周律师" in text and "参与调解人（法官）吴法官" in text
    assert "人民调解员吴法官" not in text and "人民调解员周律师" not in text
    assert "记录人叶记录" in text  # who recorded the session, not who registered the case


def test_child_support_agreement_may_be_confirmed_but_not_a_status_one(engine, world) -> None:
    body = neighbor_case(
        channel="walk_in",
        category="marriage_family",
        summary="双方离婚后，婚生子林小宝随陈阿大生活，林小二未支付抚养费。",
        claims="请求林小二支付拖欠及今后的抚养费。",
    )
    # The child is the obligee: a party of the case, its mother acting for it (a term names parties).
    body["parties"].append({"role": "applicant", "kind": "person", "name": "林小宝", "agent_name": "陈阿大"})
    members = [{"expert_id": world["experts"]["mediator_tangxia"], "role": "lead"}]
    cid = _mediated(engine, world, body, members)
    terms = [
        {
            "obligor": "林小二",
            "obligee": "林小宝",
            "obligation": "支付2026年1月至11月拖欠的抚养费",
            "amount": Decimal("22000.00"),
            "due_date": date(2026, 12, 5),
        },
        {
            "obligor": "林小二",
            "obligee": "林小宝",
            "obligation": "自2026年12月起每月5日前支付当月抚养费，至林小宝年满十八周岁止；首期",
            "amount": Decimal("2000.00"),
            "due_date": date(2026, 12, 5),
            "method": "转账至陈阿大名下银行账户",
        },
    ]
    data = {"terms": terms, "performance_method": "银行转账", "performance_place": "瑞安市塘下镇"}
    _issue(engine, world, cid, data)
    text = agreement_text(engine, cid)
    assert "（权利人：林小宝）" in text
    assert "人民币22,000.00元（大写：人民币贰万贰仟元整）" in text
    assert "人民币2,000.00元（大写：人民币贰仟元整）" in text
    assert "履行方式：转账至陈阿大名下银行账户" in text
    # 民诉解释 第355条 excludes confirming 身份关系, not support payments: the notice stays.
    assert JOINT_APPLICATION in text
    assert "不适用电子签名" in text  # marriage and family: signed in ink
    assert "支付令" not in text and "仲裁" not in text  # no labor notices
    # No responsibility stated: the heading is not printed empty, and the sections stay numbered.
    assert "各方当事人的责任" not in text
    assert "三、协议内容" in text and "四、履行方式、地点和期限" in text

    # Corrected before signing into one on the 身份关系 itself: no 司法确认 notice at all.
    _issue(engine, world, cid, {**data, "status_relation": True})
    text = agreement_text(engine, cid)
    assert "司法确认" not in text and "三十日内" not in text


def test_court_entrusted_case_goes_back_to_the_court_for_its_mediation_statement(engine, world) -> None:
    body = neighbor_case(
        channel="court_referral",
        referral={"kind": "court_post_filing", "reference": "（2026）浙0381民初1234号"},
    )
    members = [{"expert_id": world["experts"]["mediator_tangxia"], "role": "lead"}]
    cid = _mediated(engine, world, body, members)
    term = {
        "obligor": "林小二",
        "obligee": "陈阿大",
        "obligation": "拆除搭建在两户之间通道上的雨棚",
        "due_date": date(2026, 11, 30),
    }
    _issue(
        engine, world, cid, {"terms": [term], "performance_method": "自行拆除", "performance_place": "罗凤村"}
    )
    text = agreement_text(engine, cid)
    assert "林小二拆除搭建在两户之间通道上的雨棚（权利人：陈阿大），于2026年11月30日前履行完毕" in text
    # 特邀调解规定 第20条: the court reviews the agreement and makes the 调解书.
    assert "由人民法院审查并制作调解书结案" in text
    assert "《最高人民法院关于人民法院特邀调解的规定》第二十条" in text
    assert "司法确认" not in text and "三十日内" not in text


def test_a_term_without_its_obligee_is_refused_naming_it(engine, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid = register(engine, neighbor_case(), actor_id=users["clerk"], now=datetime.now(CHINA))
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    members = [{"expert_id": experts["mediator_tangxia"], "role": "lead"}]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    sid = staff.post(
        f"/cases/{cid}/sessions", {"scheduled_at": datetime.now(CHINA).isoformat(), "location": "调解室"}
    ).json()["id"]
    record = {"held_at": datetime.now(CHINA).isoformat(), "attendees": ["陈阿大"], "notes": "达成一致。"}
    assert (
        staff.post(f"/cases/{cid}/sessions/{sid}/record", {**record, "outcome": "agreed"}).status_code == 200
    )
    due = date.today().replace(year=date.today().year + 1).isoformat()
    good = {
        "obligor": "林小二",
        "obligee": "陈阿大",
        "obligation": "赔偿损失",
        "amount": "1500.00",
        "due_date": due,
    }
    base = {"performance_method": "当面支付", "performance_place": "罗凤村村委会"}

    def refused(term: dict, **extra: str) -> dict:
        r = staff.post(f"/cases/{cid}/agreement", {"terms": [good, term], **base, **extra})
        assert r.status_code == 422, r.text
        (error,) = r.json()["detail"]
        return error

    no_obligee = {k: v for k, v in good.items() if k != "obligee"}
    error = refused(no_obligee)
    assert error["loc"] == ["body", "terms", "1", "obligee"] and "请填写权利人" in error["msg"]
    error = refused({k: v for k, v in good.items() if k != "due_date"})
    assert error["loc"][-1] == "due_date" and "请填写履行期限" in error["msg"]
    # Several obligees in one money term hide who gets what: one term per person.
    error = refused({**good, "obligee": "陈阿大、陈阿二"})
    assert error["loc"][-1] == "obligee" and "按人分列条款" in error["msg"]
    error = refused({**good, "obligee": "工人张建国等17人"})
    assert error["loc"][-1] == "obligee"
    # A term without money and without a place is refused; a money term needs none (CONTRACT v1.2: the
    # law supplies the obligee's place, 民法典 第511条第（三）项), so a v1.0 body stays valid.
    apology = {k: v for k, v in good.items() if k != "amount"} | {"obligation": "当面赔礼道歉"}
    r = staff.post(f"/cases/{cid}/agreement", {"terms": [apology], "performance_method": "当面支付"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "performance_place"]
    assert "履行地点" in r.json()["detail"][0]["msg"]
    r = staff.post(f"/cases/{cid}/agreement", {"terms": [good], "performance_method": "当面支付"})
    assert r.status_code in (200, 201), r.text
    assert r.json()["performance_place"] is None
    # Nothing was recorded by the refusals; the complete agreement goes through with its obligee.
    r = staff.post(f"/cases/{cid}/agreement", {"terms": [good], **base})
    assert r.status_code in (200, 201), r.text
    assert r.json()["terms"][0]["obligee"] == "陈阿大"


def test_only_an_appointed_mediator_presides(engine, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid = register(engine, neighbor_case(), actor_id=users["clerk"], now=datetime.now(CHINA))
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    for kind in ("judge", "elder_tangxia", "lawyer"):
        members = [
            {"expert_id": experts[kind], "role": "lead"},
            {"expert_id": experts["mediator_tangxia"], "role": "member"},
        ]
        r = staff.put(f"/cases/{cid}/panel", {"members": members})
        assert r.status_code == 422, r.text
        (error,) = r.json()["detail"]
        assert error["loc"] == ["body", "members", "0", "role"]
        assert "不是本委员会聘任的人民调解员" in error["msg"]
    bank = {e["id"]: e for e in as_user("admin").get("/experts", params={"limit": 100}).json()["items"]}
    assert bank[experts["judge"]]["appointed_mediator"] is False
    assert bank[experts["mediator_tangxia"]]["appointed_mediator"] is True

    # The judge may sit as a member; the appointed mediator presides.
    members = [
        {"expert_id": experts["mediator_tangxia"], "role": "lead"},
        {"expert_id": experts["judge"], "role": "member"},
    ]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    # An appointment that ended since the panel was seated: the agreement cannot be signed by them.
    with session_scope(engine, write=True) as session:
        expert = session.get(Expert, experts["mediator_tangxia"])
        expert.appointed_mediator = False
        session.add(expert)
    sid = staff.post(
        f"/cases/{cid}/sessions", {"scheduled_at": datetime.now(CHINA).isoformat(), "location": "调解室"}
    ).json()["id"]
    record = {"held_at": datetime.now(CHINA).isoformat(), "attendees": ["陈阿大"], "notes": "达成一致。"}
    staff.post(f"/cases/{cid}/sessions/{sid}/record", {**record, "outcome": "agreed"})
    due = date.today().replace(year=date.today().year + 1).isoformat()
    term = {"obligor": "林小二", "obligee": "陈阿大", "obligation": "拆除雨棚", "due_date": due}
    body = {"terms": [term], "performance_method": "自行拆除", "performance_place": "罗凤村"}
    r = staff.post(f"/cases/{cid}/agreement", body)
    assert r.status_code == 409 and "不是本委员会聘任的人民调解员" in r.json()["detail"]


def test_the_rules_refuse_directly_too(engine, world) -> None:
    """The action function itself (the page and the demo call it too) names the missing part."""
    members = [{"expert_id": world["experts"]["mediator_tangxia"], "role": "lead"}]
    cid = _mediated(engine, world, neighbor_case(), members)
    term = {"obligor": "林小二", "obligee": " ", "obligation": "拆除雨棚", "due_date": DUE}
    data = {"terms": [term], "performance_method": "自行拆除", "performance_place": "罗凤村"}
    with pytest.raises(InvalidInput) as refused:
        act(engine, issue_agreement, cid, actor_id=world["clerk"], now=at(2026, 11, 5, 17), data=data)
    assert refused.value.field == "terms.0.obligee" and "请填写权利人" in refused.value.message
