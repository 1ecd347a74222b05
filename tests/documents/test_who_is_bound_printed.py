"""Who acts for whom, printed (issue 18 point 2): the 人民调解协议书 and the 人民调解记录 name an
organisation's 法定代表人 with the title, each 委托代理人 with 特别授权 or 一般授权, and for a group member
"由XX代表"; no blank 法定代表人 line. Read back from the archived PDFs (pdftotext), SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from flows.agreement import issue_agreement
from flows.intake import accept_case
from flows.panel_selection import confirm_panel
from flows.sessions import record_session, schedule_session
from runtime.relay import drain
from tests.factories import act, add_user, expert_bank, org_code, person_id, register
from tests.support.clock import at
from tests.support.pdf import archived_pdf_texts

pytestmark = pytest.mark.postgres

COMPANY = "瑞安市某建设有限公司"
AGENT_ID = person_id(301)


def _worker(i: int, **extra: object) -> dict:
    return {
        "role": "applicant",
        "kind": "person",
        "name": f"工人{i:02d}",
        "id_number": person_id(100 + i),
        **extra,
    }


def _body(company: dict) -> dict:
    return {
        "channel": "walk_in",
        "category": "labor",
        "town": "玉海街道",
        "summary": "工人反映公司拖欠工资。",
        "parties": [
            _worker(0, is_representative=True),
            _worker(
                1,
                agent_name="王代理",
                agent_id_number=AGENT_ID,
                agent_phone="13905770301",
                agent_special_authority=True,
            ),
            _worker(2, agent_name="李代理"),
            _worker(3, represented_by="工人00"),
            {
                "role": "respondent",
                "kind": "organization",
                "name": COMPANY,
                "org_code": org_code(1),
                "address": "瑞安市安阳街道",
                **company,
            },
        ],
    }


def _agreed_and_issued(engine, company: dict) -> int:
    experts = expert_bank(engine)
    clerk = add_user(engine, "clerk", "staff", display_name="蔡受理")
    cid = register(engine, _body(company), actor_id=clerk, now=at(2026, 11, 2, 9))
    act(engine, accept_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9))
    members = [{"expert_id": experts["mediator_yuhai"], "role": "lead"}]
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
        attendees=["工人00", "王代理", "李代理", "张建设"],
        notes="双方达成一致。",
        outcome="agreed",
        consent_to_continue=False,
    )
    terms = [
        {
            "obligor": COMPANY,
            "obligee": f"工人{i:02d}",
            "obligation": "支付拖欠工资",
            "amount": Decimal("10000"),
            "due_date": date(2026, 12, 15),
        }
        for i in range(4)
    ]
    data = {"terms": terms, "performance_method": "银行转账", "performance_place": "瑞安市玉海街道"}
    act(engine, issue_agreement, cid, actor_id=clerk, now=at(2026, 11, 5, 17), data=data)
    drain(engine)
    return cid


def test_the_agreement_and_the_record_print_who_acts_for_whom(engine) -> None:
    cid = _agreed_and_issued(
        engine, {"legal_representative": "张建设", "legal_representative_title": "总经理"}
    )
    [agreement] = archived_pdf_texts(engine, cid, "agreement")
    assert "法定代表人张建设（总经理）" in agreement
    assert f"委托代理人：王代理，公民身份号码：{AGENT_ID}，特别授权，电话：13905770301" in agreement
    assert "委托代理人：李代理，一般授权" in agreement
    assert "工人03由工人00代表" in agreement and "工人00为推选的代表" in agreement
    # Signature rows: the 法定代表人 with the title, each agent with the authority.
    assert "法定代表人（总经理）张建设" in agreement
    assert "委托代理人（特别授权）王代理" in agreement and "委托代理人（一般授权）李代理" in agreement

    [record] = archived_pdf_texts(engine, cid, "session_record")
    assert f"被申请人{COMPANY}（由张建设代为参加）" in record
    assert "申请人工人03（由工人00代表）" in record
    assert f"被申请人{COMPANY}的法定代表人（总经理）张建设" in record
    assert "申请人工人02的委托代理人（一般授权）李代理" in record
    assert "申请人工人01的委托代理人（特别授权）王代理" in record


def test_no_blank_legal_representative_line(engine) -> None:
    cid = _agreed_and_issued(engine, {})
    [agreement] = archived_pdf_texts(engine, cid, "agreement")
    # The organisation's table goes from its credit code straight to its address.
    assert f"统一社会信用代码{org_code(1)}住所地瑞安市安阳街道" in agreement
    assert "法定代表人住所地" not in agreement
