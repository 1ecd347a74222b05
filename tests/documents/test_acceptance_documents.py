"""Issue 10, acceptance and rejection: cases driven through the real actions, the flows drained, and the
archived 受理通知书 / 征询意见 / 不予受理通知书 / 终止调解告知书 read back with pdftotext.

The expected words are typed here from the statute texts (../shared/law) and DESIGN.md, not taken from
models/law.py, so a wrong table entry fails these tests too."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from flows.intake import accept_case, record_respondent_answer, reject_case
from models.case import Case
from models.lifecycle import InvalidInput, TransitionNotAllowed
from models.settings import get_settings
from runtime.relay import drain
from tests.factories import act, add_user, neighbor_case, register, wage_case
from tests.support.clock import at
from tests.support.pdf import archived_pdf_texts

# 2002 规定 第23条第一款 (司法部令第75号; 第二十条 is the scope of disputes): on application, or on the
# committee's own initiative unless a party objects.
ART_23 = (
    "人民调解委员会根据纠纷当事人的申请，受理调解纠纷；当事人没有申请的，也可以主动调解，"
    "但当事人表示异议的除外。"
)
ART_33 = "人民调解委员会调解纠纷，一般在一个月内调结。"
# 人民调解法 第17条 (../shared/law/人民调解法(2010-08-28).md).
PML_17 = (
    "当事人可以向人民调解委员会申请调解；人民调解委员会也可以主动调解。当事人一方明确拒绝调解的，不得调解。"
)
# 森林法 第22条第二款 (../shared/law/中华人民共和国森林法-摘录.md).
FOREST_22_2 = (
    "个人之间、个人与单位之间发生的林木所有权和林地使用权争议，由乡镇人民政府或者县级以上人民政府依法处理。"
)
LAND_14_1 = "土地所有权和使用权争议，由当事人协商解决；协商不成的，由人民政府处理。"
REFERENCE = "(2026)浙0381民诉前调1234号"


def issued_texts(engine, case_id: int, kind: str) -> list[str]:
    """The text of every archived PDF of `kind`, whitespace removed (pdftotext spaces CJK freely)."""
    return archived_pdf_texts(engine, case_id, kind)


def issued_text(engine, case_id: int, kind: str) -> str:
    texts = issued_texts(engine, case_id, kind)
    assert len(texts) == 1, (kind, len(texts))
    return texts[0]


def stage_of(engine, case_id: int) -> Case:
    with Session(engine) as session:
        case = session.get(Case, case_id)
        session.expunge(case)
        return case


@pytest.fixture
def clerk(engine) -> int:
    return add_user(engine, "clerk", "staff", display_name="蔡受理")


def _labor_case(engine, clerk: int, **overrides) -> int:
    body = wage_case(claimants=3, headcount=3, **overrides)
    cid = register(engine, body, actor_id=clerk, now=at(2026, 11, 2, 9))
    act(engine, accept_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9))
    drain(engine)
    return cid


def test_acceptance_notice_cites_article_20_and_is_worded_to_the_applicants(engine, clerk) -> None:
    cid = _labor_case(engine, clerk)
    notice = issued_text(engine, cid, "acceptance_notice")
    # Addressed to the applicants only: the respondent gets its own notice.
    assert "工人00、工人01、工人02：" in notice and "工人02、瑞安市某建设有限公司：" not in notice
    assert "你（单位）于2026年11月2日向本委员会申请调解" in notice
    # 2002 规定 第23条第一款, with its words; 人民调解法 第17、18条 are not conditions of acceptance.
    assert "《人民调解工作若干规定》第二十三条第一款" in notice and ART_23 in notice
    assert "受理条件" not in notice and "第十七条、第十八条" not in notice
    # 第17条 appears only as the respondent's consent being asked for, never as the basis of acceptance.
    assert "征询被申请人瑞安市某建设有限公司是否同意调解（《人民调解法》第十七条）" in notice
    # 劳动争议调解仲裁法 第14条第3款 as the statute words it; 2 Nov + 15 days = Tue 17 Nov 2026.
    assert "自劳动争议调解组织收到调解申请之日起十五日内未达成调解协议的，当事人可以依法申请仲裁。" in notice
    assert "至2026年11月17日届满" in notice
    assert "届满未达成调解协议的，本委员会将终止调解" not in notice  # no end promised for the period
    # 人民调解法 第23条 quoted from the statute (its colon is ASCII in the text).
    assert "当事人在人民调解活动中享有下列权利:（一）选择或者接受人民调解员；" in notice


def test_people_mediation_quotes_article_33_and_promises_no_end(engine, clerk) -> None:
    # A grid report: the committee takes it up on its own initiative (2002 规定 第23条).
    cid = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 11, 2, 9))
    act(engine, accept_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9))
    drain(engine)
    notice = issued_text(engine, cid, "acceptance_notice")
    assert "陈阿大：" in notice and "经网格上报获悉" in notice and "主动调解" in notice
    assert f"《人民调解工作若干规定》第三十三条“{ART_33}”" in notice
    assert "期限届满" not in notice and "届满未达成调解协议的，本委员会将终止调解" not in notice


def test_respondent_notice_is_addressed_to_the_respondent_and_asks_for_consent(engine, clerk) -> None:
    cid = _labor_case(engine, clerk)
    notice = issued_text(engine, cid, "respondent_notice")
    assert "瑞安市某建设有限公司：" in notice and "工人00、工人01、工人02：" not in notice
    assert "工人00、工人01、工人02于2026年11月2日向本委员会申请调解其与你（单位）之间的" in notice
    assert f"《人民调解法》第十七条“{PML_17}”" in notice
    assert "是否同意由本委员会调解本纠纷" in notice
    assert "同意由" in notice and "不同意调解" in notice  # the reply slip
    with Session(engine) as session:
        number = session.get(Case, cid).case_no
    assert number in notice


def test_a_refusal_closes_the_case_with_a_termination_notice(engine, clerk) -> None:
    cid = _labor_case(engine, clerk)
    with pytest.raises(InvalidInput):  # a refusal is recorded with how it was expressed
        act(
            engine,
            record_respondent_answer,
            cid,
            actor_id=clerk,
            now=at(2026, 11, 4, 9),
            agrees=False,
            note="",
        )
    act(
        engine,
        record_respondent_answer,
        cid,
        actor_id=clerk,
        now=at(2026, 11, 4, 10),
        agrees=False,
        note="公司法定代表人电话明确表示不同意调解",
    )
    drain(engine)
    case = stage_of(engine, cid)
    assert case.stage == "closed" and case.respondent_agrees is False and case.outcome == "refused"
    assert case.respondent_note == "公司法定代表人电话明确表示不同意调解"
    notice = issued_text(engine, cid, "termination_notice")
    assert "被申请人明确表示拒绝调解" in notice and PML_17 in notice
    assert "工人00、工人01、工人02、瑞安市某建设有限公司：" in notice  # every party is told
    with pytest.raises(TransitionNotAllowed):  # a closed case takes no answer
        act(
            engine,
            record_respondent_answer,
            cid,
            actor_id=clerk,
            now=at(2026, 11, 5, 9),
            agrees=True,
            note="",
        )


def test_an_agreement_is_recorded_and_the_case_goes_on(engine, clerk) -> None:
    cid = _labor_case(engine, clerk)
    act(
        engine, record_respondent_answer, cid, actor_id=clerk, now=at(2026, 11, 4, 10), agrees=True, note=None
    )
    drain(engine)
    case = stage_of(engine, cid)
    assert case.stage == "accepted" and case.respondent_agrees is True
    assert case.respondent_answered_at is not None
    assert issued_texts(engine, cid, "termination_notice") == []


def test_rejection_for_a_case_a_court_accepted_tells_no_lawsuit(engine, clerk) -> None:
    cid = register(engine, neighbor_case(channel="walk_in"), actor_id=clerk, now=at(2026, 11, 2, 9))
    act(
        engine,
        reject_case,
        cid,
        actor_id=clerk,
        now=at(2026, 11, 3, 9),
        reason="该纠纷已由瑞安市人民法院立案受理",
        reason_code="court_accepted",
    )
    drain(engine)
    notice = issued_text(engine, cid, "rejection_notice")
    assert (
        "陈阿大：" in notice
        and "经审查，属于人民法院已经受理或者解决的纠纷：该纠纷已由瑞安市人民法院立案受理" in notice
    )
    assert (
        "《人民调解工作若干规定》第二十二条第（二）项“人民法院、公安机关或者其他行政机关已经受理或者解决的”"
        in notice
    )
    assert "《人民调解工作若干规定》第二十四条" in notice
    assert "由已受理的人民法院依法处理" in notice
    assert "起诉" not in notice and "提起诉讼" not in notice and "行政复议" not in notice
    assert "第十七条" not in notice and "第十八条" not in notice


def test_rejection_of_a_forest_ownership_dispute_sends_it_to_the_government_first(engine, clerk) -> None:
    body = neighbor_case(
        channel="walk_in", category="forest_land", summary="两户对村后山一片杉木林的林木所有权发生争议。"
    )
    cid = register(engine, body, actor_id=clerk, now=at(2026, 11, 2, 9))
    act(
        engine,
        reject_case,
        cid,
        actor_id=clerk,
        now=at(2026, 11, 3, 9),
        reason="双方对杉木林林木所有权存在争议",
        reason_code="forest_ownership",
    )
    drain(engine)
    notice = issued_text(engine, cid, "rejection_notice")
    assert "《森林法》第二十二条" in notice and FOREST_22_2 in notice
    assert "申请人民政府依法处理权属争议：塘下镇乡镇人民政府或者县级以上人民政府" in notice
    assert "行政复议" not in notice


def test_rejection_of_a_land_ownership_dispute_quotes_land_law_14(engine, clerk) -> None:
    body = neighbor_case(channel="walk_in", category="housing_land", summary="两户对宅基地使用权归属有争议。")
    cid = register(engine, body, actor_id=clerk, now=at(2026, 11, 2, 9))
    act(engine, reject_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9), reason="宅基地使用权权属争议")
    drain(engine)
    with Session(engine) as session:
        assert session.get(Case, cid).rejection_reason_code == "land_ownership"  # named by the words
    notice = issued_text(engine, cid, "rejection_notice")
    assert "《土地管理法》第十四条" in notice and LAND_14_1 in notice and "行政复议" not in notice


def test_rejection_needs_a_reason_of_article_22(engine, clerk) -> None:
    cid = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 11, 2, 9))
    with pytest.raises(InvalidInput) as words:
        act(engine, reject_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9), reason="对方不愿意")
    assert words.value.field == "reason_code"
    with pytest.raises(InvalidInput):
        act(
            engine,
            reject_case,
            cid,
            actor_id=clerk,
            now=at(2026, 11, 3, 9),
            reason="x",
            reason_code="respondent_refuses",
        )
    assert stage_of(engine, cid).stage == "registered"


def test_a_referred_case_names_the_referrer_and_reference(engine, clerk) -> None:
    referral = {"kind": "court_pre_filing", "reference": REFERENCE}
    cid = _labor_case(engine, clerk, channel="court_referral", referral=referral)
    court = get_settings().court_name
    for kind in ("acceptance_notice", "respondent_notice"):
        text = issued_text(engine, cid, kind)
        assert court in text and f"以{REFERENCE}委派本委员会调解" in text, kind
    # 特邀调解规定 第27条第1款: 30 days for 委派.
    notice = issued_text(engine, cid, "acceptance_notice")
    assert "人民法院委派调解的案件，调解期限为30日。但是双方当事人同意延长调解期限的，不受此限。" in notice


def test_respondent_answer_over_http(engine, as_user) -> None:
    staff = as_user("clerk")
    cid = staff.post("/cases", wage_case(claimants=2, headcount=2)).json()["id"]
    assert staff.post(f"/cases/{cid}/respondent-answer", {"agrees": True}).status_code == 409  # not accepted
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    r = staff.post(f"/cases/{cid}/respondent-answer", {"agrees": False})
    assert r.status_code == 422 and "拒绝" in r.text
    r = staff.post(f"/cases/{cid}/respondent-answer", {"agrees": False, "note": "书面回执：不同意调解"})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "closed"
    r = staff.post(f"/cases/{cid}/reject", {"reason": "x", "reason_code": "court_accepted"})
    assert r.status_code == 409
    drain(engine)
    kinds = [d["kind"] for d in staff.get(f"/cases/{cid}/documents").json()]
    assert {"acceptance_notice", "respondent_notice", "termination_notice"} <= set(kinds)
