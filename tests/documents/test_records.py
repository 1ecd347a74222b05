"""The case file's records issued from cases in the database (issue 10), read back with pdftotext:
the 人民调解记录 (who was present by real name and capacity, a signature row for each party and each
participant, the rights and duties of 人民调解法 第23、24条 told at the first session with each party's
answer and any recusal request, each speaker's statements in order) and the 回访记录 (date, method, who
was visited and their opinion, every term's state; the case closes by a staff decision only).

Dates: the neighbour case is registered Mon 2 Nov 2026 09:00 China time, accepted 10:00, panel 11:00."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlmodel import Session, col, select

from flows.agreement import issue_agreement, record_follow_up, sign_agreement
from flows.closing import close_case
from flows.sessions import record_session, schedule_session
from models.agreement import AgreementTerm
from models.lifecycle import InvalidInput
from runtime.relay import drain
from tests.factories import (
    act,
    load_case,
)
from tests.support.clock import in_year
from tests.support.pdf import archived_pdf_texts
from tests.support.scenario import neighbor_case_with_panel

at = in_year(2026)  # at(month, day, hour=10, minute=0)


@pytest.fixture
def world(engine):
    # The login is "clerk"; the record names people, never logins.
    return neighbor_case_with_panel(engine)


def schedule(engine, world, when: datetime) -> int:
    ms = act(
        engine,
        schedule_session,
        world["case"],
        actor_id=world["clerk"],
        now=at(11, 2, 12),
        scheduled_at=when,
        location="塘下镇调解室",
        duration_minutes=120,
    )
    return ms.id


def hold(engine, world, sid: int, when: datetime, **kwargs):
    base = {
        "attendees": ["陈阿大", "林小二", "李调解", "陈乡贤"],
        "notes": None,
        "outcome": "continue",
        "consent_to_continue": False,
    }
    return act(
        engine,
        record_session,
        world["case"],
        actor_id=world["clerk"],
        now=when.replace(hour=when.hour + 2),
        session_id=sid,
        held_at=when,
        **{**base, **kwargs},
    )


STATEMENTS = [
    {"speaker": "李调解", "text": "今天就屋檐滴水和通道使用问题进行调解，请申请人先说。"},
    {"speaker": "陈阿大", "text": "林家搭的雨棚把雨水全排到我家门口，要求拆除。"},
    {"speaker": "林小二", "text": "雨棚是为了挡雨，可以改装排水管，但不同意全部拆除。"},
    {"speaker": "罗建民", "text": "村里可以出面协调排水沟的位置。"},
    {"speaker": "陈阿大", "text": "改装排水管也可以，但要在月底前完成。"},
]


def test_first_session_record_names_everyone_tells_rights_and_records_each_speaker(engine, world) -> None:
    sid = schedule(engine, world, at(11, 5, 9))
    hold(
        engine,
        world,
        sid,
        at(11, 5, 9),
        attendees=["陈阿大", "林小二", "李调解", "陈乡贤", "罗建民"],
        participants=[{"name": "罗建民", "capacity": "罗凤村村民委员会主任"}],
        recorder="蔡佳怡",
        statements=STATEMENTS,
        rights_told=True,
        party_answers=[
            {"party": "陈阿大", "answer": "听清楚了，同意调解，不要求公开进行"},
            {
                "party": "林小二",
                "answer": "听清楚了",
                "recusal": True,
                "recusal_against": "陈乡贤",
                "recusal_reason": "陈乡贤与申请人是表亲",
            },
        ],
    )
    drain(engine)
    (text,) = archived_pdf_texts(engine, world["case"], "session_record")
    assert text.startswith("瑞安市") and "人民调解记录" in text and "第1次调解" in text
    # Everyone present by real name and capacity; no login.
    assert "当事人申请人陈阿大（到场）；被申请人林小二（到场）" in text
    assert "调解主持人李调解" in text and "记录人蔡佳怡" in text
    assert "参与调解人（乡贤）陈乡贤" in text  # not an appointed 人民调解员 (人民调解法 第13、19、20条)
    assert "参加人罗凤村村民委员会主任罗建民" in text
    assert "clerk" not in text and "蔡受理" not in text
    # 人民调解法 第23、24条, in the statute's words (typed here from the text of the law).
    assert "《中华人民共和国人民调解法》第二十三条、第二十四条" in text
    for words in (
        "（一）选择或者接受人民调解员；",
        "（二）接受调解、拒绝调解或者要求终止调解；",
        "（三）要求调解公开进行或者不公开进行；",
        "（一）如实陈述纠纷事实；",
        "（二）遵守调解现场秩序，尊重人民调解员；",
    ):
        assert words in text, words
    assert "申请人陈阿大：听清楚了，同意调解，不要求公开进行。不申请回避。" in text
    assert "被申请人林小二：听清楚了。申请陈乡贤回避，理由：陈乡贤与申请人是表亲。" in text
    assert "回避申请：被申请人林小二申请陈乡贤回避。" in text
    # Each speaker's statements, in the order entered, never "记录：".
    expected = [
        "调解主持人李调解：今天就屋檐滴水和通道使用问题进行调解，请申请人先说。",
        "申请人陈阿大：林家搭的雨棚把雨水全排到我家门口，要求拆除。",
        "被申请人林小二：雨棚是为了挡雨，可以改装排水管，但不同意全部拆除。",
        "罗凤村村民委员会主任罗建民：村里可以出面协调排水沟的位置。",
        "申请人陈阿大：改装排水管也可以，但要在月底前完成。",
    ]
    positions = [text.index(line) for line in expected]
    assert positions == sorted(positions)
    assert "记录：" not in text
    # One signature row per party and per participant (then the presiding mediator and the recorder).
    sign = text[text.index("以上记录已经本人阅看") :]
    rows = [
        "申请人陈阿大",
        "被申请人林小二",
        "参与调解人（乡贤）陈乡贤",
        "罗凤村村民委员会主任罗建民",
        "调解主持人李调解",
        "记录人蔡佳怡",
    ]
    for row in rows:
        assert sign.count(row) == 1, row


def test_a_later_session_does_not_repeat_the_rights_and_an_absent_party_is_shown(engine, world) -> None:
    first = schedule(engine, world, at(11, 5, 9))
    second = schedule(engine, world, at(11, 9, 9))
    hold(
        engine,
        world,
        first,
        at(11, 5, 9),
        statements=[{"speaker": "陈阿大", "text": "要求拆除雨棚。"}],
        rights_told=True,
        party_answers=[{"party": "陈阿大", "answer": "清楚"}, {"party": "林小二", "answer": "清楚"}],
    )
    hold(
        engine,
        world,
        second,
        at(11, 9, 9),
        attendees=["陈阿大", "李调解"],
        statements=[{"speaker": "陈阿大", "text": "对方今天没来。"}],
    )
    drain(engine)
    one, two = archived_pdf_texts(engine, world["case"], "session_record")
    assert "各方当事人均表示不申请调解人员回避" in one
    assert "第2次调解" in two and "权利义务告知" not in two
    assert "被申请人林小二（未到场）" in two and "林小二（未到场）年月日" in two
    assert "记录人蔡受理" in two  # no name entered: the recording user's real name


def test_a_first_session_without_the_rights_told_says_so(engine, world) -> None:
    sid = schedule(engine, world, at(11, 5, 9))
    # The v1.0 body: attendees and one text.
    hold(engine, world, sid, at(11, 5, 9), notes="双方陈述意见。\n约定下周再谈。")
    drain(engine)
    (text,) = archived_pdf_texts(engine, world["case"], "session_record")
    assert "本次为第一次调解，本记录未载明已向当事人告知权利义务" in text
    assert "双方陈述意见。约定下周再谈。" in text and "记录：" not in text


def test_statements_and_answers_name_people_who_were_there(engine, world) -> None:
    sid = schedule(engine, world, at(11, 5, 9))
    with pytest.raises(InvalidInput) as speaker:
        hold(engine, world, sid, at(11, 5, 9), statements=[{"speaker": "王五", "text": "我来说两句。"}])
    assert speaker.value.field == "statements.0.speaker" and "王五" in speaker.value.message
    with pytest.raises(InvalidInput) as untold:
        hold(
            engine,
            world,
            sid,
            at(11, 5, 9),
            statements=STATEMENTS[:1],
            party_answers=[{"party": "陈阿大", "answer": "清楚"}],
        )
    assert untold.value.field == "rights_told"
    with pytest.raises(InvalidInput) as recusal:
        hold(
            engine,
            world,
            sid,
            at(11, 5, 9),
            statements=STATEMENTS[:1],
            rights_told=True,
            party_answers=[{"party": "林小二", "answer": "清楚", "recusal": True, "recusal_against": "张三"}],
        )
    assert recusal.value.field == "party_answers.0.recusal_against"
    # A record with neither statements nor notes: its command refuses it (the API's 422 names the field).
    with pytest.raises(ValidationError, match="statements"):
        hold(engine, world, sid, at(11, 5, 9))
    assert load_case(engine, world["case"]).stage == "panel_formed"  # nothing was recorded


def _agreed_and_signed(engine, world) -> list[int]:
    sid = schedule(engine, world, at(11, 5, 9))
    hold(engine, world, sid, at(11, 5, 9), statements=STATEMENTS[:2], rights_told=True, outcome="agreed")
    terms = [
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "改装雨棚排水管",
            "due_date": date(2026, 11, 30),
        },
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "赔偿门口地面修复费用",
            "amount": Decimal("1500.00"),
            "due_date": date(2026, 12, 31),
        },
    ]
    data = {"terms": terms, "performance_method": "当面履行", "performance_place": "塘下镇罗凤村"}
    act(engine, issue_agreement, world["case"], actor_id=world["clerk"], now=at(11, 5, 12), data=data)
    drain(engine)
    act(
        engine,
        sign_agreement,
        world["case"],
        actor_id=world["clerk"],
        now=at(11, 5, 15),
        signed_at=at(11, 5, 14),
    )
    with Session(engine) as session:
        return [t.id for t in session.exec(select(AgreementTerm).order_by(col(AgreementTerm.seq))).all()]


def test_follow_up_record_per_term_and_the_case_closes_only_by_decision(engine, world) -> None:
    cid = world["case"]
    first, second = _agreed_and_signed(engine, world)
    act(
        engine,
        record_follow_up,
        cid,
        actor_id=world["clerk"],
        now=at(12, 1, 16),
        visited_at=at(12, 1, 15),
        method="phone",
        visited_person="陈阿大",
        opinion="排水管已经改好了",
        terms=[{"term_id": first, "state": "performed"}, {"term_id": second, "state": "not_due"}],
    )
    act(
        engine,
        record_follow_up,
        cid,
        actor_id=world["clerk"],
        now=at(12, 20, 11),
        visited_at=at(12, 20, 10),
        method="visit",
        visited_person="林小二",
        opinion="修复费先付了一半",
        terms=[{"term_id": second, "state": "partly"}],
    )
    act(
        engine,
        record_follow_up,
        cid,
        actor_id=world["clerk"],
        now=at(12, 31, 17),
        visited_at=at(12, 31, 16),
        method="interview",
        visited_person="陈阿大",
        opinion="钱已收齐，满意",
        terms=[{"term_id": second, "state": "performed"}],
    )
    # Every term found performed: the case waits for the staff's 结案 decision.
    assert load_case(engine, cid).stage == "follow_up"
    drain(engine)
    one, two, three = archived_pdf_texts(engine, cid, "follow_up_record")

    assert "人民调解协议履行回访记录" in one
    assert "第一次回访" in one and "第二次回访" not in one  # as of its own visit
    assert "回访时间2026年12月1日" in one and "回访方式电话回访" in one
    assert "被回访人陈阿大" in one and "当事人意见排水管已经改好了" in one and "回访人蔡受理" in one
    assert "第1项：林小二向陈阿大改装雨棚排水管（履行期限2026年11月30日）已履行" in one
    assert (
        "第2项：林小二向陈阿大赔偿门口地面修复费用人民币1,500.00元（履行期限2026年12月31日）未到履行期" in one
    )
    assert "第2项尚未到期或未确认履行，履行期限2026年12月31日：届时再行回访" in one

    assert "第二次回访" in two and "回访方式上门回访" in two and "被回访人林小二" in two
    assert "修复费先付了一半" in two
    # A term not asked about at this visit says so, with what the last visit found.
    assert "第1项：林小二向陈阿大改装雨棚排水管（履行期限2026年11月30日）本次未回访" in two
    assert "此前回访：已履行" in two
    assert "（履行期限2026年12月31日）部分履行" in two
    assert "第2项部分履行：督促义务人林小二履行。" in two
    # 人民调解法 第32条 and 第33条第2款, as the statute words them.
    assert (
        "经人民调解委员会调解达成调解协议后，当事人之间就调解协议的履行或者调解协议的内容发生争议的，"
        "一方当事人可以向人民法院提起诉讼。（《中华人民共和国人民调解法》第三十二条）"
    ) in two
    assert "对方当事人可以向人民法院申请强制执行。（《中华人民共和国人民调解法》第三十三条第二款）" in two

    assert "第三次回访" in three and "回访方式约谈回访" in three and "履行状态已全部履行" in three
    assert (
        "经回访，协议各项义务均已履行。下一步：由中心工作人员审核履行情况后作出结案决定（履行完毕）。"
        in three
    )
    assert "结案归档" not in three and "第三十二条" not in three

    act(
        engine,
        close_case,
        cid,
        actor_id=world["clerk"],
        now=at(12, 31, 18),
        kind="performed",
        note="协议全部履行",
    )
    case = load_case(engine, cid)
    assert (case.stage, case.close_kind) == ("closed", "performed")
