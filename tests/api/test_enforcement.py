"""From agreement to enforcement (issue 20, CONTRACT v1.2): the 司法确认 application and certificate, the
支付令 applications, the court loop (备案函, 移交函), the performance ledger — each issued from cases
driven through the real actions (history with an explicit clock, then the JSON API today) and read back
from the archived PDFs; every refusal with its article. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import chinese_calendar
import openpyxl
import pytest
from sqlmodel import Session, col, select

from flows.enforcement import apply_judicial_confirmation, send_jc_reminders
from models.agreement import AgreementTerm
from models.case import Case
from models.db import session_scope
from models.message import Message
from models.notification import Notification
from models.party import Party
from runtime.relay import drain
from tests.documents.wording import read_back, wording_faults
from tests.factories import (
    act,
    add_user,
    neighbor_case,
    person_id,
    wage_case,
)
from tests.support.clock import at, china_today, on
from tests.support.pdf import archived_pdf_texts
from tests.support.scenario import Scenario, drive_to_signed

pytestmark = pytest.mark.postgres

COMPANY = "瑞安市某建设有限公司"
WORKERS = [f"工人{i:02d}" for i in range(17)]
WAGE = Decimal("18000.00")


def _why(r) -> str:
    detail = r.json()["detail"]
    return detail if isinstance(detail, str) else " ".join(e["msg"] for e in detail)


def _last_day(signed: date) -> date:
    """By hand: 30 days after the signing day (the day itself not counted, 民诉法 第85条), moved to the
    next working day when it is a rest day."""
    day = signed + timedelta(days=30)
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


NEW_KINDS = {
    "judicial_confirmation_application",
    "mediation_certificate",
    "payment_order_application",
    "court_filing",
    "court_return",
}


def _clean_wording(engine) -> None:
    """The text checks of issue 19 over every new document issued (no “。。”, no doubled clause, no empty
    label, room to write each date, names on signature rows). On the printed page, laid out on SQLite only
    (the tests' `printed(database="sqlite")`): the words do not depend on the database."""
    if engine.dialect.name != "sqlite":
        return
    issued = [d for d in read_back(engine) if d.kind in NEW_KINDS]
    assert issued
    faults = {d.label: f for d in issued if (f := wording_faults(d))}
    assert not faults, faults


def _wage_body() -> dict:
    body = wage_case()
    company = body["parties"][-1]
    company |= {
        "legal_representative": "张建设",
        "legal_representative_title": "总经理",
        "phone": "057765001234",
    }
    return body


def _wage_terms(due: date, later: date) -> list[dict]:
    """Terms 1–17: each worker's wages (工人16's too); 18: 工人00's 经济补偿 (to be paid in full);
    19: 工人01's 经济补偿 due later; 20: the pay slip (no money)."""
    terms = [
        {"obligor": COMPANY, "obligee": w, "obligation": "支付拖欠工资", "amount": WAGE, "due_date": due}
        for w in WORKERS
    ]
    terms += [
        {
            "obligor": COMPANY,
            "obligee": "工人00",
            "obligation": "支付经济补偿",
            "amount": Decimal("3000.00"),
            "due_date": due,
        },
        {
            "obligor": COMPANY,
            "obligee": "工人01",
            "obligation": "支付经济补偿",
            "amount": Decimal("2000.00"),
            "due_date": later,
        },
        {"obligor": COMPANY, "obligee": "工人00", "obligation": "出具工资结算清单", "due_date": due},
    ]
    return terms


@pytest.fixture
def wage_world(engine, users, experts) -> dict:
    """The 17-worker case registered 10 days ago, signed 9 days ago, wages due 6 days ago; a 回访 two days
    ago found 工人16 paid 10,000 and every other worker nothing, 工人00's 经济补偿 paid, the slip handed."""
    from flows.agreement import record_follow_up

    today = china_today()
    start = on(today - timedelta(days=10))
    signed_on = today - timedelta(days=9)
    due, later = today - timedelta(days=6), today + timedelta(days=5)
    cid = drive_to_signed(
        engine,
        _wage_body(),
        actor_id=users["clerk"],
        lead_expert_id=experts["mediator_yuhai"],
        start=start,
        terms=_wage_terms(due, later),
        attendees=[*WORKERS, COMPANY],
    )
    with Session(engine) as session:
        terms = {t.seq: t.id for t in session.exec(select(AgreementTerm)).all()}
    visit = on(today - timedelta(days=2), 15)
    states = [{"term_id": terms[n], "state": "not_performed"} for n in range(1, 17)]
    states += [
        {"term_id": terms[17], "paid_amount": "10000.00", "paid_on": (today - timedelta(days=3)).isoformat()},
        {"term_id": terms[18], "paid_amount": "3000.00", "paid_on": (today - timedelta(days=3)).isoformat()},
        {"term_id": terms[20], "state": "performed"},
    ]
    act(
        engine,
        record_follow_up,
        cid,
        actor_id=users["clerk"],
        now=visit,
        visited_at=visit,
        method="phone",
        visited_person="工人00",
        terms=states,
    )
    drain(engine)
    return {"case": cid, "terms": terms, "signed_on": signed_on, "due": due, "later": later, "engine": engine}


@pytest.mark.printed(database="sqlite")  # _clean_wording reads the laid-out page (room to write a date)
def test_seventeen_payment_orders_each_with_one_workers_data_and_every_refusal(wage_world, as_user) -> None:
    staff = as_user("clerk")
    cid, terms = wage_world["case"], wage_world["terms"]

    # Refusals, each naming the term and the article; nothing is recorded.
    r = staff.post(f"/cases/{cid}/payment-orders", {"term_ids": [terms[18]]})
    assert r.status_code == 409 and "第18项（权利人：工人00）经回访已履行完毕" in _why(r), r.text
    r = staff.post(f"/cases/{cid}/payment-orders", {"term_ids": [terms[19]]})
    assert r.status_code == 409, r.text
    assert f"第19项（权利人：工人01）的履行期限（最后一日{wage_world['later'].isoformat()}）尚未届满" in _why(
        r
    )
    assert "《劳动争议调解仲裁法》第十六条" in _why(r)
    r = staff.post(f"/cases/{cid}/payment-orders", {"term_ids": [terms[20]]})
    assert r.status_code == 409 and "第20项（权利人：工人00）不是给付金钱的条款" in _why(r), r.text
    assert "《民事诉讼法》第二百二十五条" in _why(r)
    r = staff.post(
        f"/cases/{cid}/payment-orders", {"term_ids": [terms[1], terms[19]]}
    )  # one bad: none issued
    assert r.status_code == 409
    assert staff.get(f"/cases/{cid}").json()["enforcement"]["steps"] == []

    # The 17 wage terms: 17 applications in one action.
    r = staff.post(f"/cases/{cid}/payment-orders", {"term_ids": [terms[n] for n in range(1, 18)]})
    assert r.status_code == 201, r.text
    answer = r.json()
    assert len(answer["steps"]) == 17
    drain(wage_world["engine"])  # the relay's work, done here (embedded, the answer waits for it)
    docs = [
        d for d in staff.get(f"/cases/{cid}/documents").json() if d["kind"] == "payment_order_application"
    ]
    assert len(docs) == 17
    # By hand: 16 × 18,000 owed in full, 工人16 18,000 − 10,000.
    amounts = sorted(Decimal(s["amount"]) for s in answer["steps"])
    assert amounts == [Decimal("8000.00")] + [WAGE] * 16

    texts = archived_pdf_texts(wage_world["engine"], cid, "payment_order_application")
    assert len(texts) == 17
    ids = {w: person_id(100 + i) for i, w in enumerate(WORKERS)}
    for text in texts:
        named = [w for w in WORKERS if w in text]
        assert len(named) == 1, named
        worker = named[0]
        assert ids[worker] in text
        assert not [i for w, i in ids.items() if w != worker and i in text]  # no other worker's ID number
        assert "申请人（债权人）" in text and "被申请人（债务人）" in text
        assert COMPANY in text and "张建设（总经理）" in text
        assert "《民事诉讼法》第二百二十五条" in text and "《劳动争议调解仲裁法》第十六条" in text
        assert "瑞安市人民法院（被申请人住所地基层人民法院）" in text
        assert _cn(wage_world["signed_on"]) in text  # the agreement's date
        if worker == "工人16":
            assert "人民币8,000.00元（大写：人民币捌仟元整）" in text
            assert "已付10,000.00元，尚欠8,000.00元" in text
        else:
            assert "人民币18,000.00元（大写：人民币壹万捌仟元整）" in text

    # Applied once: again for one of them is refused with the day.
    r = staff.post(f"/cases/{cid}/payment-orders", {"term_ids": [terms[5]]})
    assert r.status_code == 409 and f"已于{china_today().isoformat()}申请支付令" in _why(r)

    # Each application is delivered to its own worker only.
    deliveries = staff.get(f"/cases/{cid}/deliveries").json()
    orders = [d for d in deliveries if d["kind"] == "payment_order_application"]
    assert sorted(d["party"] for d in orders) == sorted(WORKERS)

    # The ledger: per worker agreed, paid, outstanding and the step with its day.
    ledger = {row["obligee"]: row for row in staff.get(f"/cases/{cid}").json()["enforcement"]["ledger"]}
    assert ledger["工人16"]["paid"] == "10000.00" and ledger["工人16"]["outstanding"] == "8000.00"
    assert ledger["工人00"]["agreed"] == "21000.00" and ledger["工人00"]["paid"] == "3000.00"
    assert [s["step"] for s in ledger["工人07"]["steps"]] == ["payment_order_applied"]

    # The same columns in the 台账 (its 履行台账 sheet): one row per worker of this case.
    r = staff.get("/ledger")
    assert r.status_code == 200, r.text
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["履行台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "案件编号",
        "权利人",
        "条款",
        "约定金额",
        "已付金额",
        "最近付款日期",
        "尚欠金额",
        "履行保障步骤",
    )
    by_worker = {row[1]: row for row in rows[1:]}
    assert sorted(by_worker) == sorted(WORKERS)
    assert by_worker["工人16"][3:5] == (18000, 10000) and by_worker["工人16"][6] == 8000
    assert by_worker["工人00"][2] == "第1项、第18项" and by_worker["工人00"][4] == 3000
    assert by_worker["工人07"][7] == f"{china_today().isoformat()} 已申请支付令"

    _clean_wording(wage_world["engine"])
    # The applications carry full ID numbers: a leader (masked view) may not download them.
    director = as_user("director")
    assert director.get(f"/documents/{docs[0]['id']}/pdf").status_code == 403


@pytest.mark.printed(database="sqlite")  # _clean_wording reads the laid-out page (room to write a date)
def test_judicial_confirmation_of_a_walk_in_case_goes_to_the_committees_court(wage_world, as_user) -> None:
    staff = as_user("clerk")
    cid = wage_world["case"]
    last = _last_day(wage_world["signed_on"])
    assert (
        staff.get(f"/cases/{cid}").json()["enforcement"]["judicial_confirmation_last_day"] == last.isoformat()
    )
    r = staff.post(f"/cases/{cid}/judicial-confirmation", {})
    assert r.status_code == 201, r.text
    drain(wage_world["engine"])
    (text,) = archived_pdf_texts(wage_world["engine"], cid, "judicial_confirmation_application")
    for i, worker in enumerate(WORKERS):  # every party an applicant with identity, address and contact
        assert worker in text and person_id(100 + i) in text and f"1380577{i:04d}" in text
    assert COMPANY in text and "张建设" in text
    assert "请求人民法院确认申请人于" in text and "有效" in text
    assert "此致瑞安市人民法院" in text
    assert "向瑞安市人民法院（调解组织所在地的基层人民法院）提出" in text
    assert "当事人住所地、标的物所在地、调解组织所在地的基层人民法院提出" in text  # 第205条第（二）项
    assert "《民事诉讼法》第二百零五条第（二）项" in text
    assert "《最高人民法院关于适用《中华人民共和国民事诉讼法》的解释》第三百五十四条" in text
    assert "调解组织主持调解的证明" in text and "居民身份证复印件（17份）" in text
    assert f"最后一日为{_cn(last)}" in text
    assert text.count("年月日") >= 18  # a signature row per party (18), each with its date to fill
    (cert,) = archived_pdf_texts(wage_world["engine"], cid, "mediation_certificate")
    assert "指定人民调解员王调解主持调解" in cert and "共主持调解1次" in cert and "第1次" in cert
    assert "特此证明" in cert
    for i in range(17):
        assert person_id(100 + i) not in cert
    _clean_wording(wage_world["engine"])
    # Once only.
    r = staff.post(f"/cases/{cid}/judicial-confirmation", {})
    assert r.status_code == 409 and f"已于{china_today().isoformat()}制作司法确认申请书" in _why(r)
    # The court confirmed: recorded on the ledger for every worker.
    r = staff.post(
        f"/cases/{cid}/enforcement-steps",
        {
            "step": "jc_confirmed",
            "on": china_today().isoformat(),
            "court": "瑞安市人民法院",
            "note": "裁定调解协议有效",
        },
    )
    assert r.status_code == 201, r.text
    ledger = staff.get(f"/cases/{cid}").json()["enforcement"]["ledger"]
    assert all([s["step"] for s in row["steps"]] == ["jc_applied", "jc_confirmed"] for row in ledger)


def _walk_in_money_case(engine, users, experts, start: datetime, *, due: date) -> int:
    """A walk-in neighbour case: 林小二 pays 陈阿大 1,500 by `due`; registered at `start`, signed the
    next day."""
    terms = [
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "赔偿修复费用",
            "amount": Decimal("1500.00"),
            "due_date": due,
        }
    ]
    return drive_to_signed(
        engine,
        neighbor_case(channel="walk_in", town="玉海街道"),
        actor_id=users["clerk"],
        lead_expert_id=experts["mediator_yuhai"],
        start=start,
        terms=terms,
        attendees=["陈阿大", "林小二"],
    )


def test_judicial_confirmation_refused_after_the_window_naming_the_last_day(
    engine, users, experts, as_user
) -> None:
    today = china_today()
    start = on(today - timedelta(days=45))
    signed = today - timedelta(days=44)
    cid = _walk_in_money_case(engine, users, experts, start, due=signed + timedelta(days=5))
    r = as_user("clerk").post(f"/cases/{cid}/judicial-confirmation", {})
    assert r.status_code == 409, r.text
    assert f"申请司法确认的期限已过：最后一日为{_cn(_last_day(signed))}" in _why(r)
    assert "《人民调解法》第三十三条" in _why(r)


_HOURS = itertools.cycle(range(8, 20, 2))


def _neighbor_signed(engine, users, experts, *, sign: bool = True, extra: dict | None = None, **body) -> int:
    # Each case its own hour: one mediator and one room are never booked twice.
    start = on(china_today() - timedelta(days=3), next(_HOURS))
    terms = [
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "改装雨棚排水管",
            "due_date": china_today() + timedelta(days=10),
        }
    ]
    return drive_to_signed(
        engine,
        neighbor_case(**({"channel": "walk_in", "town": "玉海街道"} | body)),
        actor_id=users["clerk"],
        lead_expert_id=experts["mediator_yuhai"],
        start=start,
        terms=terms,
        attendees=["陈阿大", "林小二"],
        agreement_extra=extra,
        sign=sign,
    )


def test_judicial_confirmation_refusals_name_their_article(engine, users, experts, as_user) -> None:
    staff = as_user("clerk")
    entrusted = _neighbor_signed(
        engine,
        users,
        experts,
        channel="court_referral",
        referral={"kind": "court_post_filing", "reference": "(2026)浙0381民初555号"},
    )
    r = staff.post(f"/cases/{entrusted}/judicial-confirmation", {})
    assert r.status_code == 409 and "《最高人民法院关于人民法院特邀调解的规定》第二十条" in _why(r), r.text
    status = _neighbor_signed(engine, users, experts, extra={"status_relation": True})
    r = staff.post(f"/cases/{status}/judicial-confirmation", {})
    assert r.status_code == 409 and "身份关系" in _why(r)
    assert "第三百五十五条第（三）项" in _why(r)
    ownership = _neighbor_signed(
        engine, users, experts, category="forest_land", claims="请求确认该片林木归申请人所有。"
    )
    r = staff.post(f"/cases/{ownership}/judicial-confirmation", {})
    assert r.status_code == 409 and "物权、知识产权确权" in _why(r) and "第三百五十五条第（五）项" in _why(r)
    unsigned = _neighbor_signed(engine, users, experts, sign=False)
    r = staff.post(f"/cases/{unsigned}/judicial-confirmation", {})
    assert r.status_code == 409 and "调解协议尚未签署生效" in _why(r)
    for cid in (entrusted, status, ownership, unsigned):
        assert staff.get(f"/cases/{cid}").json()["enforcement"]["steps"] == []


@pytest.mark.printed(database="sqlite")  # _clean_wording reads the laid-out page (room to write a date)
def test_a_referred_case_goes_to_the_inviting_court_and_is_filed_there(
    engine, users, experts, as_user
) -> None:
    staff = as_user("clerk")
    reference = "(2026)浙0381民诉前调1234号"
    cid = _neighbor_signed(
        engine,
        users,
        experts,
        channel="court_referral",
        referral={"kind": "court_pre_filing", "reference": reference},
    )
    # 备案函 on signing (特邀调解规定 第19条), the agreement referenced by its code.
    (filing,) = archived_pdf_texts(engine, cid, "court_filing")
    agreement_doc = next(d for d in staff.get(f"/cases/{cid}/documents").json() if d["kind"] == "agreement")
    assert filing.startswith("") and "瑞安市人民法院：" in filing and reference in filing
    assert agreement_doc["verify_code"] in filing and agreement_doc["sha256"] in filing
    assert "《最高人民法院关于人民法院特邀调解的规定》第十九条" in filing
    assert "委派调解达成调解协议，特邀调解员应当将调解协议送达双方当事人，并提交人民法院备案。" in filing
    # Another court is refused for a 委派 case (第205条第（一）项).
    r = staff.post(f"/cases/{cid}/judicial-confirmation", {"court": "温州市鹿城区人民法院"})
    assert r.status_code == 422 and "作出委派的瑞安市人民法院" in _why(r), r.text
    r = staff.post(f"/cases/{cid}/judicial-confirmation", {})
    assert r.status_code == 201, r.text
    drain(engine)
    (text,) = archived_pdf_texts(engine, cid, "judicial_confirmation_application")
    assert "本案系人民法院委派调解，向作出委派的瑞安市人民法院提出" in text
    assert "《民事诉讼法》第二百零五条第（一）项" in text and reference in text
    assert "当事人也可以选择" not in text
    _clean_wording(engine)


@pytest.mark.printed(database="sqlite")  # _clean_wording reads the laid-out page (room to write a date)
def test_a_failed_referred_case_returns_the_materials(engine, users, experts) -> None:
    reference = "(2026)浙0381民诉前调2001号"
    start = on(china_today() - timedelta(days=2))
    body = neighbor_case(
        channel="court_referral",
        town="玉海街道",
        referral={"kind": "court_pre_filing", "reference": reference},
    )
    held = start + timedelta(days=1)
    s = Scenario(engine, clerk=users["clerk"], experts=experts, start=start)
    s.registered(body).accepted().panel("mediator_yuhai").scheduled(held, duration_minutes=60)
    s.held(held, outcome="failed", attendees=["陈阿大", "林小二"], notes="双方分歧较大。")
    cid = s.case
    drain(engine)
    (text,) = archived_pdf_texts(engine, cid, "court_return")
    assert "瑞安市人民法院：" in text and reference in text
    assert "经调解，双方当事人未能达成调解协议" in text
    assert "委派调解未达成调解协议的，特邀调解员应当将当事人的起诉状等材料移送人民法院" in text
    assert "贵院委派调解时移送的起诉状等材料" in text
    for label in ("调解申请书/受理登记表", "人民调解记录", "终止调解告知书"):
        assert label in text, label
    _clean_wording(engine)


def test_the_agreement_prints_the_last_day_and_the_mediator_is_reminded_a_week_before(
    engine, users, experts
) -> None:
    """Signed Mon 7 Dec 2026 (the 17-worker case of the issue): by hand, 30 days on is Wed 6 Jan 2027, a
    working day."""
    mediator = add_user(engine, "wangtj", "staff", expert_id=experts["mediator_yuhai"], display_name="王建国")
    start = at(2026, 12, 6, 9)
    cid = _walk_in_money_case(engine, users, experts, start, due=date(2026, 12, 20))
    (agreement,) = archived_pdf_texts(engine, cid, "agreement")
    assert "申请司法确认的最后一日为2027年1月6日" in agreement
    assert "（本协议于2026年12月7日签署生效的）" in agreement
    with session_scope(engine, write=True) as session:
        # One party agreed to electronic delivery: it is told too, by SMS (issue 21 point 4).
        consenting = session.exec(select(Party).where(Party.case_id == cid).order_by(col(Party.id))).first()
        consenting.consent_electronic, consenting.phone = True, "13905770001"
        session.add(consenting)
    with session_scope(engine, write=True) as session:
        assert send_jc_reminders(session, at(2026, 12, 29, 8)) == 0  # 8 days before
        assert send_jc_reminders(session, at(2026, 12, 30, 8)) == 1  # 7 days before
        assert send_jc_reminders(session, at(2026, 12, 31, 8)) == 0  # once
    with Session(engine) as session:
        (sms,) = session.exec(select(Message).where(Message.purpose == "jc_reminder")).all()
        assert (sms.channel, sms.to, sms.party_id) == ("sms", "13905770001", consenting.id)
        assert "最后一日为2027年1月6日（《人民调解法》第三十三条）" in sms.body and "/p/" in sms.body
    with Session(engine) as session:
        note = session.exec(select(Notification).where(Notification.key.startswith("jc-last-day:"))).one()
        case_no = session.get(Case, cid).case_no
    assert note.user_id == mediator
    assert (
        note.text
        == f"{case_no} 申请司法确认的最后一日为2027-01-06（还剩7天）：当事人需要的，请协助其共同申请"
    )
    # Applying after the last day is refused by the action itself (its clock explicit).
    from models.lifecycle import TransitionNotAllowed

    with pytest.raises(TransitionNotAllowed, match="最后一日为2027年1月6日"):
        act(
            engine,
            apply_judicial_confirmation,
            cid,
            actor_id=users["clerk"],
            now=at(2027, 1, 7, 9),
            court=None,
        )
