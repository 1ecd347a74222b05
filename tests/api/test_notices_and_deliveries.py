"""Notices and delivery (issue 19 points 3 and 4, CONTRACT v1.2), driven through the JSON API and the case
page on SQLite and PostgreSQL, the archived PDFs read back with pdftotext.

The case, by hand: two workers (工人甲 in person, 工人乙) against 瑞安市某劳务有限公司 (respondent), with the
general contractor 瑞安市某总承包有限公司 that pays as 第三人. So each notice sent to every party is
issued 4 times; the 受理通知书 goes to the 2 applicants, the 征询意见 to the respondent and the third party.
Panel: 王调解 presiding (人民调解员), 周律师 法律顾问.

Expected words are typed here from ../shared/law, not read from models/law.py."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.party import Party
from runtime.relay import drain
from tests.factories import org_code, person_id
from tests.pages.conftest import csrf_of, login
from tests.support.clock import CHINA, china_today, days_from_today
from tests.support.pdf import archived_pdf_texts

pytestmark = pytest.mark.postgres

WORKERS = ("工人甲", "工人乙")
COMPANY = "瑞安市某劳务有限公司"
CONTRACTOR = "瑞安市某总承包有限公司"
# 人民调解法 第19条 (../shared/law/人民调解法(2010-08-28).md).
PML_19 = (
    "人民调解委员会根据调解纠纷的需要，可以指定一名或者数名人民调解员进行调解，也可以由当事人选择一名或者"
    "数名人民调解员进行调解。"
)
# 人民调解法 第17条.
PML_17 = "当事人一方明确拒绝调解的，不得调解。"
# 特邀调解规定 第15条: the recusal grounds.
RECUSAL_1 = "（一）是一方当事人或者其代理人近亲属的；"
# 民诉法 第87条, 第89条 (../shared/law/中华人民共和国民事诉讼法-摘录.md).
CPL_87 = "受送达人在送达回证上的签收日期为送达日期。"
CPL_89 = "在送达回证上记明拒收事由和日期，由送达人、见证人签名或者盖章"


def _body() -> dict:
    workers = [
        {
            "role": "applicant",
            "kind": "person",
            "name": name,
            "id_number": person_id(500 + i),
            "phone": f"1380577{500 + i:04d}",
            "address": "瑞安市玉海街道滨江社区",
        }
        for i, name in enumerate(WORKERS)
    ]
    return {
        "channel": "walk_in",
        "category": "labor",
        "town": "玉海街道",
        "summary": "两名工人反映劳务公司拖欠工资，总承包单位负责代发。",
        "claims": "请求支付拖欠工资20000元。",
        "headcount": 2,
        "parties": [
            *workers,
            {"role": "respondent", "kind": "organization", "name": COMPANY, "org_code": org_code(7)},
            {"role": "third_party", "kind": "organization", "name": CONTRACTOR, "org_code": org_code(8)},
        ],
    }


def _cn(moment: datetime) -> str:
    local = moment.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日{local.hour}时{local.minute:02d}分"


def _case_with_notices(engine, staff, experts) -> dict:
    r = staff.post("/cases", _body())
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    drain(engine)
    members = [
        {"expert_id": experts["mediator_yuhai"], "role": "lead"},
        {"expert_id": experts["lawyer"], "role": "legal_advisor"},
    ]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    drain(engine)
    first, second = days_from_today(3, 9, 30), days_from_today(4, 14, 30)
    r = staff.post(f"/cases/{cid}/sessions", {"scheduled_at": first.isoformat(), "location": "第一调解室"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    drain(engine)
    r = staff.patch(
        f"/cases/{cid}/sessions/{sid}",
        {"scheduled_at": second.isoformat(), "location": "第二调解室", "reason": "总承包单位负责人出差"},
    )
    assert r.status_code == 200, r.text
    drain(engine)
    r = staff.post(f"/cases/{cid}/sessions/{sid}/cancel", {"reason": "双方正在自行协商"})
    assert r.status_code == 200, r.text
    drain(engine)
    with Session(engine) as session:
        parties = {p.name: p.id for p in session.exec(select(Party).where(Party.case_id == cid)).all()}
    return {"case": cid, "session": sid, "first": first, "second": second, "parties": parties}


def _row(rows: list[dict], kind: str, party: str) -> dict:
    found = [r for r in rows if r["kind"] == kind and r["party"] == party]
    assert found, (kind, party)
    return found[0]


def _audit_count(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(AuditEvent)).one()


def test_notices_per_party_and_the_third_party_is_asked(engine, as_user, experts) -> None:
    staff = as_user("clerk")
    w = _case_with_notices(engine, staff, experts)
    cid = w["case"]

    # 人民调解法 第17条: the third party is asked like the respondent, on the same 征询 notice.
    (asking,) = archived_pdf_texts(engine, cid, "respondent_notice")
    assert f"{COMPANY}、{CONTRACTOR}：" in asking
    assert (
        f"{CONTRACTOR}与本纠纷的处理结果有利害关系，本委员会将其列为第三人，一并征询其是否同意参加调解"
        in asking
    )

    # 调解员（专班）告知书: one per party, naming the mediators by name and role, the rights and recusal.
    panel = archived_pdf_texts(engine, cid, "panel_notice")
    assert len(panel) == 4
    for name in (*WORKERS, COMPANY, CONTRACTOR):
        assert sum(text.count(f"{name}：") for text in panel) == 1, name
    text = panel[0]
    assert "由王调解主持调解" in text
    assert "王调解调解主持人人民调解员" in text and "周律师法律顾问律师" in text
    assert f"《人民调解法》第十九条“{PML_19}”" in text
    assert "（一）选择或者接受人民调解员；" in text  # 第23条
    assert "有权申请其回避" in text and RECUSAL_1 in text
    assert "以口头或者书面方式向本委员会提出" in text

    # 调解通知书: scheduled, rescheduled, cancelled; 4 parties each.
    notices = archived_pdf_texts(engine, cid, "session_notice")
    assert len(notices) == 12
    scheduled, moved, cancelled = notices[0], notices[4], notices[8]
    assert f"调解时间{_cn(w['first'])}" in scheduled and "调解地点第一调解室" in scheduled
    assert "居民身份证" in scheduled and "与纠纷有关的证据材料" in scheduled
    assert "申请人工人甲；申请人工人乙；被申请人" in scheduled
    assert "无正当理由不到场" in scheduled and PML_17 in scheduled
    assert "（调解改期通知）" in moved and f"原定于{_cn(w['first'])}在第一调解室进行的调解，现改期" in moved
    assert f"调解时间{_cn(w['second'])}" in moved and "总承包单位负责人出差" in moved
    assert "（取消调解通知）" in cancelled and "现决定取消，原因：双方正在自行协商" in cancelled
    assert f"原定于{_cn(w['second'])}在第二调解室" in cancelled
    # An organisation is told to bring its own papers.
    org_notice = next(t for t in notices[:4] if f"{COMPANY}：" in t)
    assert "营业执照" in org_notice and "法定代表人（主要负责人）身份证明书" in org_notice

    # Delivery records: 2 acceptance + 2 征询 + 4 panel + 12 session notices, all pending.
    rows = staff.get(f"/cases/{cid}/deliveries").json()
    assert len(rows) == 20
    assert {r["status"] for r in rows} == {"pending"}
    assert sorted(r["party"] for r in rows if r["kind"] == "respondent_notice") == sorted(
        [COMPANY, CONTRACTOR]
    )
    assert sorted(r["party"] for r in rows if r["kind"] == "acceptance_notice") == sorted(WORKERS)
    # A rerun of the flows issues and opens nothing twice.
    drain(engine)
    assert len(staff.get(f"/cases/{cid}/deliveries").json()) == 20


def test_recording_deliveries_through_the_api(engine, as_user, experts) -> None:
    staff = as_user("clerk")
    w = _case_with_notices(engine, staff, experts)
    cid = w["case"]
    rows = staff.get(f"/cases/{cid}/deliveries").json()
    today = china_today()
    worker = _row(rows, "panel_notice", "工人甲")
    company = _row(rows, "panel_notice", COMPANY)
    url = f"/cases/{cid}/deliveries/{worker['id']}"

    def refused(did: int, body: dict, field: str, words: str) -> None:
        before = _audit_count(engine)
        r = staff.post(f"/cases/{cid}/deliveries/{did}", body)
        assert r.status_code == 422, r.text
        assert words in r.text and field in r.text, r.text
        assert _audit_count(engine) == before
        row = next(x for x in staff.get(f"/cases/{cid}/deliveries").json() if x["id"] == did)
        assert row["status"] == "pending"

    day = today.isoformat()
    # 民诉法 第90条 by analogy: SMS only with the party's consent.
    refused(
        worker["id"],
        {"status": "delivered", "method": "sms", "delivered_at": day, "signed_by": "party"},
        "method",
        "同意电子送达",
    )
    # 第88条: an organization's papers are signed by its clerk, not a family member.
    refused(
        company["id"],
        {
            "status": "delivered",
            "method": "in_person",
            "delivered_at": day,
            "signed_by": "family",
            "signer_name": "张三",
        },
        "signed_by",
        "负责收件的人",
    )
    # A family member signs with a name.
    refused(
        worker["id"],
        {"status": "delivered", "method": "in_person", "delivered_at": day, "signed_by": "family"},
        "signer_name",
        "同住成年家属",
    )
    # 第89条: a refusal notes the reason and the witnesses.
    refused(
        company["id"],
        {"status": "refused", "method": "in_person", "delivered_at": day},
        "note",
        "拒收事由和见证人",
    )
    refused(
        worker["id"],
        {
            "status": "delivered",
            "method": "in_person",
            "delivered_at": (today + timedelta(days=1)).isoformat(),
            "signed_by": "party",
        },
        "delivered_at",
        "不能晚于今天",
    )
    refused(worker["id"], {"status": "pending"}, "status", "请记录送达结果")
    assert staff.post(f"/cases/{cid}/deliveries/999999", {"status": "delivered"}).status_code == 404

    # Delivered to 工人甲's adult family member in person: the 送达回证 is issued.
    r = staff.post(
        url,
        {
            "status": "delivered",
            "method": "in_person",
            "delivered_at": day,
            "signed_by": "family",
            "signer_name": "李秀英",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "delivered" and r.json()["signed_by"] == "family"
    drain(engine)
    # Recorded once: a second record is refused (409) and changes nothing.
    r = staff.post(url, {"status": "refused", "method": "in_person", "delivered_at": day, "note": "x"})
    assert r.status_code == 409 and "不能再更改" in r.text

    # The company refused: 留置送达 with the reason and witnesses.
    note = "该公司前台以负责人不在为由拒收，村委会委员陈某到场见证，已留置并拍照"
    r = staff.post(
        f"/cases/{cid}/deliveries/{company['id']}",
        {"status": "refused", "method": "in_person", "delivered_at": day, "note": note},
    )
    assert r.status_code == 200, r.text
    drain(engine)
    receipts = archived_pdf_texts(engine, cid, "delivery_receipt")
    assert len(receipts) == 2
    signed, refusal = receipts
    cn_day = f"{today.year}年{today.month}月{today.day}日"
    assert "送达文书调解员（专班）告知书" in signed and "受送达人申请人工人甲" in signed
    assert "送达方式直接送达" in signed and f"签收日期{cn_day}" in signed
    assert "签收人李秀英（同住成年家属）" in signed and "送达人蔡受理" in signed
    assert CPL_87 in signed
    assert f"受送达人被申请人{COMPANY}" in refusal and "拒收（留置送达）" in refusal
    assert f"拒收日期{cn_day}" in refusal and note in refusal and CPL_89 in refusal
    rows = staff.get(f"/cases/{cid}/deliveries").json()
    assert _row(rows, "panel_notice", "工人甲")["receipt_url"].endswith("/pdf")
    assert (
        staff.get(_row(rows, "panel_notice", COMPANY)["receipt_url"].removeprefix("/api/v1")).status_code
        == 200
    )

    # SMS with the consent recorded; the consent then holds for the next electronic delivery.
    worker2 = _row(rows, "acceptance_notice", "工人乙")
    r = staff.post(
        f"/cases/{cid}/deliveries/{worker2['id']}",
        {
            "status": "delivered",
            "method": "sms",
            "delivered_at": day,
            "signed_by": "party",
            "consent_electronic": True,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["consent_electronic"] is True
    later = _row(rows, "panel_notice", "工人乙")
    r = staff.post(
        f"/cases/{cid}/deliveries/{later['id']}",
        {"status": "delivered", "method": "email", "delivered_at": day, "signed_by": "party"},
    )
    assert r.status_code == 200, r.text
    drain(engine)
    assert "第九十条" in archived_pdf_texts(engine, cid, "delivery_receipt")[-1]

    # Audited without personal data: no signer's name, no note.
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "delivery.record")).all()
        consent = session.exec(
            select(AuditEvent).where(AuditEvent.action == "party.consent_electronic")
        ).all()
    assert len(events) == 4 and len(consent) == 1
    assert all("李秀英" not in str(e.after) and "见证" not in str(e.after) for e in events)


def test_recording_a_delivery_on_the_case_page(engine, client, as_user, experts) -> None:
    staff = as_user("clerk")
    w = _case_with_notices(engine, staff, experts)
    cid = w["case"]
    assert login(client, "clerk").status_code == 303
    page = client.get(f"/cases/{cid}")
    assert page.status_code == 200
    section = page.text.split('id="deliveries"', 1)[1].split("</section>", 1)[0]
    assert section.count("<tr data-delivery=") == 20
    assert "已送达（本人签收）" in section and "拒收" in section and "待送达" in section
    rows = staff.get(f"/cases/{cid}/deliveries").json()
    target = _row(rows, "session_notice", "工人乙")
    form = {
        "csrf_token": csrf_of(page.text),
        "method": "in_person",
        "delivered_at": china_today().isoformat(),
        "signed_by": "party",
        "signer_name": "",
        "note": "",
    }
    # A refusal without its reason: back to the page with the Chinese reason, nothing recorded.
    before = _audit_count(engine)
    r = client.post(
        f"/cases/{cid}/deliveries/{target['id']}", data={**form, "status": "refused"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"/cases/{cid}")
    page = client.get(r.headers["location"])
    assert "拒收事由和见证人" in html.unescape(page.text)
    assert _audit_count(engine) == before
    # One click: delivered in person, signed by the party.
    r = client.post(
        f"/cases/{cid}/deliveries/{target['id']}",
        data={**form, "status": "delivered"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    drain(engine)
    page = client.get(f"/cases/{cid}")
    assert "已记录送达" in html.unescape(page.text)
    # The history says it in words, without the signer's name.
    timeline = html.unescape(page.text.split('id="timeline"', 1)[1].split("</section>", 1)[0])
    assert "记录文书送达：已送达（直接送达" in timeline and "受送达人本人）" in timeline
    row = re.search(rf'<tr data-delivery="{target["id"]}">(.*?)</tr>', page.text, re.S)
    assert row and "已送达" in row.group(1) and "工人乙（受送达人本人）" in row.group(1)
    link = re.search(r'href="(/documents/\d+/pdf)"[^>]*data-kind="delivery_receipt"', row.group(1))
    assert link, row.group(1)
    pdf = client.get(link.group(1))
    assert pdf.status_code == 200 and pdf.headers["content-type"].startswith("application/pdf")
    (receipt,) = archived_pdf_texts(engine, cid, "delivery_receipt")
    assert "送达文书调解通知书" in receipt and "签收人工人乙（受送达人本人）" in receipt


def test_rejection_and_termination_notices_get_delivery_records(engine, as_user) -> None:
    """不予受理 goes to the applicant; 终止调解 to every party: each one's delivery is recorded, also after
    the case is closed (the date it reached them is what the center must prove)."""
    from tests.factories import neighbor_case

    staff = as_user("clerk")
    rejected = staff.post("/cases", neighbor_case()).json()["id"]
    r = staff.post(f"/cases/{rejected}/reject", {"reason": "法院已立案", "reason_code": "court_accepted"})
    assert r.status_code == 200, r.text
    ended = staff.post("/cases", neighbor_case()).json()["id"]
    assert staff.post(f"/cases/{ended}/accept", {}).status_code == 200
    r = staff.post(f"/cases/{ended}/respondent-answer", {"agrees": False, "note": "电话中明确表示不同意调解"})
    assert r.status_code == 200 and r.json()["stage"] == "closed", r.text
    drain(engine)
    rows = staff.get(f"/cases/{rejected}/deliveries").json()
    assert [(r["kind"], r["party"]) for r in rows] == [("rejection_notice", "陈阿大")]
    rows = staff.get(f"/cases/{ended}/deliveries").json()
    assert sorted((r["kind"], r["party"]) for r in rows if r["kind"] == "termination_notice") == [
        ("termination_notice", "林小二"),
        ("termination_notice", "陈阿大"),
    ]
    end = _row(rows, "termination_notice", "林小二")
    day = china_today().isoformat()
    r = staff.post(
        f"/cases/{ended}/deliveries/{end['id']}",
        {"status": "delivered", "method": "post", "delivered_at": day, "signed_by": "party"},
    )
    assert r.status_code == 200, r.text
    drain(engine)
    (receipt,) = archived_pdf_texts(engine, ended, "delivery_receipt")
    assert "送达文书终止调解告知书" in receipt and "送达方式邮寄送达" in receipt
