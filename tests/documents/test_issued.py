"""Documents issued from cases in the database: a case driven through the real action functions, the
flows drained, and the archived PDF read back with pdftotext."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from flows.agreement import issue_agreement
from flows.intake import accept_case, reject_case
from flows.panel_selection import confirm_panel
from flows.sessions import record_session, schedule_session
from models.case import Case
from models.db import session_scope
from models.document import Document
from runtime.relay import drain
from tests.factories import (
    act,
    neighbor_case,
    org_code,
    person_id,
    register,
    wage_case,
)
from tests.support.clock import at
from tests.support.pdf import archived_pdf_texts
from tests.support.scenario import office


def issued_text(engine, case_id: int, kind: str) -> str:
    """The text of the one archived PDF of `kind`, whitespace removed (pdftotext spaces CJK freely)."""
    texts = archived_pdf_texts(engine, case_id, kind)
    assert len(texts) == 1, len(texts)
    return texts[0]


def case_no(engine, case_id: int) -> str:
    with Session(engine) as session:
        return session.get(Case, case_id).case_no


@pytest.fixture
def world(engine):
    return office(engine)


def _labor_case(engine, clerk: int) -> int:
    """Three workers against a company, registered Monday 2 Nov 2026 and accepted the next day."""
    cid = register(engine, wage_case(claimants=3, headcount=3), actor_id=clerk, now=at(2026, 11, 2, 9))
    act(engine, accept_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9))
    return cid


WORKERS = [("工人00", person_id(100)), ("工人01", person_id(101)), ("工人02", person_id(102))]
COMPANY = ("瑞安市某建设有限公司", org_code(1))


def test_application_and_acceptance_notice_of_a_labor_case(engine, world) -> None:
    cid = _labor_case(engine, world["clerk"])
    drain(engine)
    number = case_no(engine, cid)
    assert number == "瑞调〔2026〕00001号"  # the center's first case of 2026

    application = issued_text(engine, cid, "application")
    assert "人民调解申请书" in application and number in application
    for name, id_number in [*WORKERS, COMPANY]:
        assert name in application and id_number in application
    assert "登记时间：2026年11月2日9时00分" in application  # the intake moment, China time
    assert "《中华人民共和国人民调解法》第四条" in application  # 不收取任何费用
    # A labor claim runs on 仲裁时效 (劳动争议调解仲裁法 第27条第二款), not 诉讼时效 (issue 10).
    assert "申请人民调解之日起仲裁时效中断" in application and "诉讼时效" not in application

    notice = issued_text(engine, cid, "acceptance_notice")
    assert "人民调解受理通知书" in notice and number in notice
    assert "工人00、工人01、工人02：" in notice  # issue 10: to the applicants (the respondent has its own)
    assert "于2026年11月2日向本委员会申请调解" in notice and "于2026年11月3日予以受理" in notice
    # 劳动争议调解仲裁法 第14条, quoted: 15 days from receiving the application, 2 Nov + 15 = Tue 17 Nov.
    assert "《劳动争议调解仲裁法》第十四条" in notice
    assert "自劳动争议调解组织收到调解申请之日起十五日内未达成调解协议的，当事人可以依法申请仲裁" in notice
    assert "至2026年11月17日届满" in notice
    assert "《人民调解法》第二十三条" in notice and "《人民调解法》第二十四条" in notice


def test_agreement_issued_from_a_mediated_case(engine, world) -> None:
    clerk, experts = world["clerk"], world["experts"]
    cid = _labor_case(engine, clerk)
    members = [
        {"expert_id": experts["mediator_yuhai"], "role": "lead"},
        {"expert_id": experts["lawyer"], "role": "legal_advisor"},
    ]
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
        actor_id=clerk,
        now=at(2026, 11, 5, 16),
        session_id=ms.id,
        held_at=at(2026, 11, 5, 14),
        attendees=["工人00", "工人01", "工人02", "公司代表张经理"],
        notes="双方就欠薪数额和支付期限达成一致。",
        outcome="agreed",
        consent_to_continue=False,
    )
    term = {
        "obligor": "瑞安市某建设有限公司",
        "obligee": "工人00",
        "obligation": "支付拖欠工资",
        "amount": Decimal("320000.00"),
        "due_date": date(2026, 12, 15),
    }
    data = {"terms": [term], "performance_method": "银行转账至各申请人账户", "performance_place": "瑞安市"}
    act(engine, issue_agreement, cid, actor_id=clerk, now=at(2026, 11, 5, 17), data=data)
    drain(engine)
    number = case_no(engine, cid)

    record = issued_text(engine, cid, "session_record")
    assert number in record and "第1次调解" in record
    assert "2026年11月5日14时00分至2026年11月5日15时30分" in record  # 90 minutes
    assert "地点第一调解室" in record and "调解主持人王调解" in record and "记录人蔡受理" in record
    assert "双方就欠薪数额和支付期限达成一致。" in record and "调解结果：达成协议" in record

    agreement = issued_text(engine, cid, "agreement")
    assert "人民调解协议书" in agreement and number in agreement
    for name, id_number in [*WORKERS, COMPANY]:  # 人民调解法 第29条: each party's basic information
        assert name in agreement and id_number in agreement
    assert "瑞安市某建设有限公司支付拖欠工资（权利人：工人00），于2026年12月15日前履行完毕" in agreement
    assert "人民币320,000.00元（大写：人民币叁拾贰万元整）" in agreement
    assert "履行方式银行转账至各申请人账户" in agreement
    assert "本协议书一式5份" in agreement  # 4 parties + the committee's copy
    assert "调解主持人（人民调解员）王调解" in agreement
    # 人民调解法 第31条 and 第33条, as the statute words them.
    assert "具有法律约束力，当事人应当按照约定履行（《中华人民共和国人民调解法》第三十一条）" in agreement
    assert "自本协议生效之日起三十日内，共同向瑞安市人民法院申请司法确认" in agreement
    assert "《中华人民共和国人民调解法》第三十三条" in agreement


def test_rejection_notice_names_the_reason_and_the_court(engine, world) -> None:
    clerk = world["clerk"]
    cid = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 11, 2, 9))
    act(engine, reject_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9), reason="该纠纷已由人民法院受理")
    drain(engine)
    notice = issued_text(engine, cid, "rejection_notice")
    assert "不予受理通知书" in notice and case_no(engine, cid) in notice
    assert "陈阿大：" in notice and "陈阿大与林小二邻里纠纷" in notice
    assert "经审查，属于人民法院已经受理或者解决的纠纷：该纠纷已由人民法院受理" in notice
    # Issue 10: a court already has the case, so no lawsuit is told (2002 规定 第24条, matched to the reason).
    assert "由已受理的人民法院依法处理" in notice and "起诉" not in notice
    with session_scope(engine) as session:
        kinds = session.exec(select(Document.kind).where(Document.case_id == cid)).all()
    assert sorted(kinds) == ["application", "rejection_notice"]
