"""Issue 10, end to end: a 林权 dispute and a 医疗纠纷 run through the real actions (intake → acceptance →
panel → sessions → agreement or termination → documents, flows drained), and their documents carry the
regime's own words, read back from the archived PDFs (pdftotext), on SQLite and PostgreSQL.

Expected words are typed here from ../shared/law and the dates counted by hand (no statutory holiday or
调休 day falls between 2 Nov and 31 Dec 2026)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session

from flows.deadlines import pause_clock, resume_clock
from models.case import Case
from runtime.relay import drain
from tests.factories import medical_case, person_id
from tests.support.clock import at
from tests.support.pdf import archived_pdf_texts
from tests.support.scenario import Scenario, office

# 森林法 第22条 (../shared/law/中华人民共和国森林法-摘录.md), paragraphs 2 and 3.
FOREST_22_2 = (
    "个人之间、个人与单位之间发生的林木所有权和林地使用权争议，由乡镇人民政府或者县级以上人民政府依法处理。"
)
FOREST_22_3 = "当事人对有关人民政府的处理决定不服的，可以自接到处理决定通知之日起三十日内，向人民法院起诉。"
LAND_14_1 = "土地所有权和使用权争议，由当事人协商解决；协商不成的，由人民政府处理。"
# 民法典 第195条(四) and 人民调解法 第26条.
CIVIL_195_4 = "与提起诉讼或者申请仲裁具有同等效力的其他情形"
PML_26 = "人民调解员调解纠纷，调解不成的，应当终止调解"
# 2002 规定 第33条, as it stands.
ART_33 = "人民调解委员会调解纠纷，一般在一个月内调结。"
# 医疗纠纷预防和处理条例 第38条, 第40条第一款, 第43条.
MEDICAL_38 = (
    "医疗纠纷人民调解委员会应当自受理之日起30个工作日内完成调解。需要鉴定的，鉴定时间不计入调解期限。"
    "因特殊情况需要延长调解期限的，医疗纠纷人民调解委员会和医患双方可以约定延长调解期限。"
    "超过调解期限未达成调解协议的，视为调解不成。"
)
MEDICAL_40_1 = "医患双方申请医疗纠纷行政调解的，应当参照本条例第三十一条第一款、第二款的规定向医疗纠纷发生地"
MEDICAL_43 = "发生医疗纠纷，当事人协商、调解不成的，可以依法向人民法院提起诉讼。"
JOINT_APPLICATION = "自本协议生效之日起三十日内，共同向瑞安市人民法院申请司法确认"
HOSPITAL = "瑞安市某医院"


def texts(engine, case_id: int, kind: str) -> list[str]:
    out = [
        # Page furniture removed (the footer, and the running case number heading the next page), so
        # that a quotation running over a page break reads whole.
        re.sub(r"第\d+页共\d+页(瑞调〔\d{4}〕\d+号)?", "", text)
        for text in archived_pdf_texts(engine, case_id, kind)
    ]
    assert out, kind
    return out


@pytest.fixture
def world(engine):
    return office(engine, "clerk", "recorder")


def _session(s: Scenario, world, *, on: datetime, outcome: str, notes: str) -> None:
    """A 90-minute session scheduled at 08:00 on the day, recorded by the recorder at 17:00."""
    s.scheduled(on, duration_minutes=90, now=on.replace(hour=8))
    s.held(
        on,
        outcome=outcome,
        attendees=["申请人", "被申请人"],
        notes=notes,
        now=on.replace(hour=17),
        by=world["recorder"],
    )


def _person(role: str, name: str, seq: int) -> dict:
    return {"role": role, "kind": "person", "name": name, "id_number": person_id(seq), "phone": "13905770000"}


def test_a_forest_dispute_goes_to_the_government_first(engine, world) -> None:
    body = {
        "channel": "walk_in",
        "category": "forest_land",
        "town": "塘下镇",
        "village": "罗凤村",
        "summary": "两户对后山一片杉木林的林木所有权和林地使用权各执一词，均主张系祖辈种植。",
        "claims": "请求确认该片林木归申请人所有。",
        "parties": [_person("applicant", "陈山林", 301), _person("respondent", "林木根", 302)],
    }
    s = Scenario(engine, clerk=world["clerk"], experts=world["experts"], start=at(2026, 11, 2, 9))
    s.registered(body).accepted(now=at(2026, 11, 3, 9))
    s.panel("mediator_tangxia", "elder_tangxia", now=at(2026, 11, 4, 9))
    _session(s, world, on=at(2026, 11, 5, 14), outcome="continue", notes="双方陈述各自依据。")
    _session(s, world, on=at(2026, 11, 12, 14), outcome="failed", notes="双方均不让步。")
    cid = s.case
    drain(engine)

    (acceptance,) = texts(engine, cid, "acceptance_notice")
    # People's mediation: 2002 规定 第33条 as it stands; accepted 3 Nov, one month → 3 Dec 2026.
    assert "《人民调解工作若干规定》第三十三条" in acceptance and ART_33 in acceptance
    assert "期限届满将终止调解" not in acceptance and "终止调解" not in acceptance.split(ART_33)[1][:60]

    (notice,) = texts(engine, cid, "termination_notice")
    assert "陈山林、林木根：" in notice and "2026年11月12日起终止调解" in notice
    assert PML_26 in notice
    # The people's government first (森林法 第22条, 土地管理法 第14条), the court only after its decision.
    assert "申请人民政府依法处理" in notice and "塘下镇人民政府或者县级以上人民政府" in notice
    assert "《森林法》第二十二条" in notice and FOREST_22_2 in notice and FOREST_22_3 in notice
    assert "《土地管理法》第十四条" in notice and LAND_14_1 in notice
    assert "行政复议" not in notice
    # A 确权 claim ("请求确认该片林木归申请人所有"): no limitation period to interrupt (issue 19).
    assert CIVIL_195_4 not in notice and "时效" not in notice


def _medical_case(engine, world, *, accepted: datetime) -> Scenario:
    """Registered at 08:00 on the day of `accepted`, 李调解 presiding and 周律师 as legal advisor
    from 15:00."""
    body = medical_case()
    s = Scenario(engine, clerk=world["clerk"], experts=world["experts"], start=accepted.replace(hour=8))
    s.registered(body).accepted(now=accepted)
    return s.panel("mediator_tangxia", ("lawyer", "legal_advisor"), now=accepted.replace(hour=15))


def test_a_medical_dispute_runs_thirty_working_days_and_pauses_for_appraisal(engine, world) -> None:
    # Accepted Tue 3 Nov 2026. 30 working days, the day of acceptance not counted: Nov 4–6 (3), 9–13 (8),
    # 16–20 (13), 23–27 (18), 30 (19), Dec 1–4 (23), 7–11 (28), 14 (29), Tue 15 Dec (30).
    s = _medical_case(engine, world, accepted=at(2026, 11, 3, 9))
    cid = s.case
    drain(engine)
    (acceptance,) = texts(engine, cid, "acceptance_notice")
    assert "《医疗纠纷预防和处理条例》第三十八条" in acceptance and MEDICAL_38 in acceptance
    assert "本纠纷的调解期限至2026年12月15日届满（鉴定时间不计入）" in acceptance
    assert "一般在一个月内调结" not in acceptance  # not the people's-mediation clock

    # The appraisal: the clock stands still from Wed 4 Nov to Mon 16 Nov, counted in working days (the
    # clock's unit, issue 19): 5, 6, 9–13, 16 Nov = 8 working days not counted. 30 + 8 = 38 working days:
    # the 30th is Tue 15 Dec, then 16–18 Dec (33), 21–25 Dec (38) → Fri 25 Dec 2026, a working day.
    s.act(pause_clock, now=at(2026, 11, 4, 10), note="医疗损害鉴定")
    with Session(engine) as session:
        paused = session.get(Case, cid)
        assert paused.clock_paused_since is not None and paused.stage_due_at is None  # no deadline runs
    s.act(resume_clock, now=at(2026, 11, 16, 10), note="鉴定意见已出具")
    with Session(engine) as session:
        assert session.get(Case, cid).clock_due_on == date(2026, 12, 25)

    _session(s, world, on=at(2026, 11, 18, 14), outcome="agreed", notes="依鉴定意见达成一致。")
    term = {
        "obligor": HOSPITAL,
        "obligee": "吴海燕",
        "obligation": "一次性赔偿医疗费、误工费等各项损失",
        "amount": Decimal("60000.00"),
        "due_date": date(2026, 12, 1),
        "method": "银行转账至吴海燕本人账户",
        "place": "瑞安市安阳街道",
    }
    s.issued([term], now=at(2026, 11, 18, 17), method="银行转账", place="瑞安市安阳街道")
    (agreement,) = texts(engine, cid, "agreement")
    assert f"{HOSPITAL}一次性赔偿医疗费、误工费等各项损失（权利人：吴海燕）" in agreement
    assert "人民币60,000.00元（大写：人民币陆万元整）" in agreement
    # A medical agreement may be confirmed by the court (民诉解释 第355条 does not exclude it).
    assert JOINT_APPLICATION in agreement
    assert "仲裁" not in agreement and "支付令" not in agreement  # no labor notices


def test_a_medical_dispute_past_its_period_is_deemed_failed(engine, world) -> None:
    s = _medical_case(engine, world, accepted=at(2026, 11, 3, 9))  # due Tue 15 Dec (counted above)
    cid = s.case
    _session(s, world, on=at(2026, 12, 16, 14), outcome="failed", notes="医院不同意赔偿数额。")
    drain(engine)
    (notice,) = texts(engine, cid, "termination_notice")
    assert "调解期限届满未达成调解协议" in notice and "视为调解不成" in notice
    assert "《医疗纠纷预防和处理条例》第三十八条" in notice
    # Its routes (条例 第40条 行政调解, 第43条 诉讼), quoted; never 行政复议.
    assert "申请医疗纠纷行政调解" in notice and "县级人民政府卫生主管部门" in notice
    assert MEDICAL_40_1 in notice and MEDICAL_43 in notice
    assert "行政复议" not in notice
