"""The parties' channel (一案一码, CONTRACT v1.2, issue 21 points 1, 3 and 5) through the JSON API on the
real database: a code opens one party of one case and nothing else; wrong secrets are throttled; an
expired token is refused; a delivery confirmed with consent becomes delivered by the portal with its
送达回证; remote signing with the code read from the file sender's log signs and reissues the agreement.

The case, by hand: 工人甲 (applicant, person) against 瑞安市某劳务有限公司 (respondent, organization, its
法定代表人 张经理). 王调解 presides. The agreement: the company pays 工人甲 8000 元."""

from __future__ import annotations

import json
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, true
from sqlmodel import Session, select

from api.portal_auth import create_portal_token
from flows.messages import send_due
from models.audit import AuditEvent
from models.delivery import Delivery
from models.document import Document
from models.party import Party
from models.portal import RemoteSignature, SignatureCode, satisfaction_counts
from models.settings import get_settings
from models.statistics import quality_summary
from runtime.relay import drain
from tests.factories import org_code, person_id
from tests.support.clock import CHINA

pytestmark = pytest.mark.postgres

WORKER, COMPANY = "工人甲", "瑞安市某劳务有限公司"
WORKER_ID, COMPANY_CODE = person_id(601), org_code(61)
WORKER_PHONE, COMPANY_PHONE = "13805770601", "13805770602"
# 电子签名法 第三条第三款第（一）项 (../shared/law/中华人民共和国电子签名法-摘录.md).
ESIGN_3_1 = "涉及婚姻、收养、继承等人身关系的"


def _body(**overrides: object) -> dict:
    body = {
        "channel": "walk_in",
        "category": "labor",
        "town": "玉海街道",
        "summary": "工人反映劳务公司拖欠工资8000元。",
        "claims": "请求支付拖欠工资8000元。",
        "headcount": 1,
        "parties": [
            {
                "role": "applicant",
                "kind": "person",
                "name": WORKER,
                "id_number": WORKER_ID,
                "phone": WORKER_PHONE,
                "address": "瑞安市玉海街道滨江社区8幢",
            },
            {
                "role": "respondent",
                "kind": "organization",
                "name": COMPANY,
                "org_code": COMPANY_CODE,
                "phone": COMPANY_PHONE,
                "address": "瑞安市安阳街道万松路1号",
                "legal_representative": "张经理",
                "legal_representative_title": "总经理",
            },
        ],
    }
    body.update(overrides)
    return body


def png(width: int = 60, height: int = 24) -> bytes:
    """A real PNG (a black bar), built by hand: signature, IHDR, IDAT, IEND with their CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x00\x00\x00\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_b64(width: int = 60) -> str:
    import base64

    return base64.b64encode(png(width)).decode()


def _parties(engine, cid: int) -> dict[str, int]:
    with Session(engine) as session:
        return {p.name: p.id for p in session.exec(select(Party).where(Party.case_id == cid)).all()}


def _accepted(engine, staff, **overrides: object) -> int:
    r = staff.post("/cases", _body(**overrides))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    drain(engine)
    return cid


def _agreed(engine, staff, experts, cid: int) -> None:
    members = [{"expert_id": experts["mediator_yuhai"], "role": "lead"}]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = staff.post(f"/cases/{cid}/sessions", {"scheduled_at": at, "location": "第一调解室"})
    assert r.status_code == 201, r.text
    record = {
        "held_at": datetime.now(UTC).isoformat(),
        "attendees": [WORKER, "张经理"],
        "notes": "双方达成一致。",
        "outcome": "agreed",
    }
    r = staff.post(f"/cases/{cid}/sessions/{r.json()['id']}/record", record)
    assert r.status_code == 200, r.text
    due = (datetime.now(CHINA).date() + timedelta(days=20)).isoformat()
    terms = [
        {
            "obligor": COMPANY,
            "obligee": WORKER,
            "obligation": "支付拖欠工资",
            "amount": "8000",
            "due_date": due,
        }
    ]
    r = staff.post(f"/cases/{cid}/agreement", {"terms": terms, "performance_method": "银行转账"})
    assert r.status_code in (200, 201), r.text
    drain(engine)


def _login(client, code: str, secret: str):
    return client.post(f"/api/v1/portal/{code}/login", json={"secret": secret})


def _as_party(client, staff, cid: int, pid: int, secret: str) -> dict:
    access = staff.get(f"/cases/{cid}/parties/{pid}/access")
    assert access.status_code == 200, access.text
    r = _login(client, access.json()["code"], secret)
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 1800
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _audit_count(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(AuditEvent)).one()


def test_a_code_opens_one_party_of_one_case(engine, client, as_user, experts) -> None:
    staff = as_user("clerk")
    cid = _accepted(engine, staff)
    other = _accepted(engine, staff, summary="另一起欠薪纠纷。")
    ids = _parties(engine, cid)
    access = staff.get(f"/cases/{cid}/parties/{ids[WORKER]}/access").json()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", access["code"])
    assert access["url"].endswith(f"/p/{access['code']}")
    # The code is the party's own: the other party's differs, a party of another case is not reached
    # through this case, and only staff ask for codes.
    assert staff.get(f"/cases/{cid}/parties/{ids[COMPANY]}/access").json()["code"] != access["code"]
    assert staff.get(f"/cases/{other}/parties/{ids[WORKER]}/access").status_code == 404
    assert as_user("director").get(f"/cases/{cid}/parties/{ids[WORKER]}/access").status_code == 403
    assert as_user("otherlawyer").get(f"/cases/{cid}/parties/{ids[WORKER]}/access").status_code == 403

    # The secret is the last 6 characters of the ID number; the company's of its credit code.
    assert _login(client, access["code"], COMPANY_CODE[-6:]).status_code == 401
    worker = _as_party(client, staff, cid, ids[WORKER], WORKER_ID[-6:])
    company = _as_party(client, staff, cid, ids[COMPANY], COMPANY_CODE[-6:].lower())

    me = client.get("/api/v1/portal/me", headers=worker)
    assert me.status_code == 200, me.text
    view = me.json()
    assert view["me"]["name"] == WORKER and view["me"]["id_number"] == WORKER_ID
    assert view["me"]["phone"] == WORKER_PHONE
    assert view["stage_label"] == "受理" and view["next_step"] == "组建调解专班"
    assert view["others"] == [{"name": COMPANY, "role_label": "被申请人"}]
    # Nothing of the other party's numbers or address, anywhere in the answer.
    for secret in (COMPANY_CODE, COMPANY_PHONE, "万松路", "张经理"):
        assert secret not in me.text, secret
    # The worker's 受理通知书 is addressed to him; the company's view holds none of his data.
    assert [d["kind_label"] for d in view["documents"]] == ["受理通知书"]
    company_view = client.get("/api/v1/portal/me", headers=company)
    for secret in (WORKER_ID, WORKER_PHONE, "滨江社区"):
        assert secret not in company_view.text, secret

    # Another party's delivery and document are not reachable with this token.
    worker_doc = view["documents"][0]
    r = client.post(
        f"/api/v1/portal/deliveries/{worker_doc['delivery_id']}/confirm", headers=company, json={}
    )
    assert r.status_code == 404
    assert client.get(f"/api/v1/portal/documents/{worker_doc['id']}/pdf", headers=company).status_code == 404
    pdf = client.get(f"/api/v1/portal/documents/{worker_doc['id']}/pdf", headers=worker)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # The staff routes stay closed to a party's token, the party's routes to a staff token.
    assert client.get(f"/api/v1/cases/{cid}", headers=worker).status_code == 401
    assert staff.get("/portal/me").status_code == 401


def test_wrong_secrets_are_throttled_and_tokens_expire(engine, client, as_user) -> None:
    staff = as_user("clerk")
    cid = _accepted(engine, staff)
    ids = _parties(engine, cid)
    code = staff.get(f"/cases/{cid}/parties/{ids[WORKER]}/access").json()["code"]
    for _ in range(5):
        assert _login(client, code, "000000").status_code == 401
    # Locked for this address: the right secret too, until the window passes (api/security.py).
    locked = _login(client, code, WORKER_ID[-6:])
    assert locked.status_code == 429 and "验证信息错误次数过多" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) > 0
    # A forged or mistyped code names nobody, with the same answer as a wrong secret.
    assert _login(client, "0000000000", WORKER_ID[-6:]).status_code == 401

    party = ids[COMPANY]
    stale = create_portal_token(party, now=datetime.now(UTC) - timedelta(minutes=31))
    r = client.get("/api/v1/portal/me", headers={"Authorization": f"Bearer {stale}"})
    assert r.status_code == 401 and "过期" in r.json()["detail"]
    fresh = create_portal_token(party, now=datetime.now(UTC) - timedelta(minutes=29))
    assert client.get("/api/v1/portal/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_confirming_a_delivery_needs_consent_and_issues_the_receipt(engine, client, as_user) -> None:
    staff = as_user("clerk")
    cid = _accepted(engine, staff)
    ids = _parties(engine, cid)
    worker = _as_party(client, staff, cid, ids[WORKER], WORKER_ID[-6:])
    (doc,) = client.get("/api/v1/portal/me", headers=worker).json()["documents"]
    url = f"/api/v1/portal/deliveries/{doc['delivery_id']}/confirm"

    before = _audit_count(engine)
    r = client.post(url, headers=worker, json={})
    assert r.status_code == 422 and "同意电子送达" in r.text and "consent_electronic" in r.text
    assert _audit_count(engine) == before

    r = client.post(url, headers=worker, json={"consent_electronic": True})
    assert r.status_code == 200, r.text
    assert r.json()["me"]["consent_electronic"] is True
    drain(engine)
    rows = staff.get(f"/cases/{cid}/deliveries").json()
    row = next(x for x in rows if x["id"] == doc["delivery_id"])
    assert row["status"] == "delivered" and row["method"] == "portal" and row["signed_by"] == "party"
    assert row["delivered_at"] == datetime.now(CHINA).date().isoformat()
    assert row["receipt_document_id"] is not None
    with Session(engine) as session:
        party = session.get(Party, ids[WORKER])
        assert party is not None and party.consent_electronic and party.consent_at is not None
    # Confirmed once: a second time is refused and changes nothing.
    assert client.post(url, headers=worker, json={"consent_electronic": True}).status_code == 409

    # The company asks for paper: recorded, and the delivery stays pending for staff.
    company = _as_party(client, staff, cid, ids[COMPANY], COMPANY_CODE[-6:])
    (notice,) = client.get("/api/v1/portal/me", headers=company).json()["documents"]
    r = client.post(f"/api/v1/portal/deliveries/{notice['delivery_id']}/paper", headers=company)
    assert r.status_code == 200, r.text
    (after,) = r.json()["documents"]
    assert after["paper_requested"] and after["status"] == "pending" and not after["to_confirm"]
    with Session(engine) as session:
        delivery = session.get(Delivery, notice["delivery_id"])
        assert delivery is not None and delivery.paper_requested_at is not None

    # Satisfaction waits for the case to close.
    r = client.post("/api/v1/portal/satisfaction", headers=worker, json={"rating": 4, "comment": "很好"})
    assert r.status_code == 409 and "结案后" in r.text


def _otp(engine, phone: str) -> str:
    send_due(engine)
    lines = (get_settings().data_dir / "messages" / "sms.log").read_text(encoding="utf-8").splitlines()
    mine = [json.loads(line) for line in lines if json.loads(line)["to"] == phone]
    match = re.search(r"验证码(\d{6})", mine[-1]["body"])
    assert match, mine[-1]
    return match.group(1)


@pytest.mark.printed  # the drawn signatures are images on the reissued page
def test_remote_signing_signs_and_reissues_the_agreement(engine, client, as_user, experts) -> None:
    staff = as_user("clerk")
    cid = _accepted(engine, staff)
    _agreed(engine, staff, experts, cid)
    ids = _parties(engine, cid)
    worker = _as_party(client, staff, cid, ids[WORKER], WORKER_ID[-6:])
    company = _as_party(client, staff, cid, ids[COMPANY], COMPANY_CODE[-6:])

    agreement = client.get("/api/v1/portal/me", headers=worker).json()["agreement"]
    assert agreement["must_sign"] and not agreement["signed"]
    assert agreement["terms"][0]["amount"] == "8000.00"
    # A signature without a code sent first, or with a wrong code, is refused; the tries are counted.
    r = client.post(
        "/api/v1/portal/signatures", headers=worker, json={"otp": "123456", "image_png_base64": png_b64()}
    )
    assert r.status_code == 422 and "验证码已失效" in r.text
    sent = client.post("/api/v1/portal/signatures/request", headers=worker)
    assert sent.status_code == 200, sent.text
    code = _otp(engine, WORKER_PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = client.post(
        "/api/v1/portal/signatures", headers=worker, json={"otp": wrong, "image_png_base64": png_b64()}
    )
    assert r.status_code == 422 and "还可尝试2次" in r.text
    r = client.post(
        "/api/v1/portal/signatures", headers=worker, json={"otp": code, "image_png_base64": "bm90IGEgcG5n"}
    )
    assert r.status_code == 422 and "PNG" in r.text
    r = client.post(
        "/api/v1/portal/signatures", headers=worker, json={"otp": code, "image_png_base64": png_b64(61)}
    )
    assert r.status_code == 200, r.text
    assert r.json()["agreement"]["i_signed"]
    # The code is used: it signs nothing twice.
    assert client.post("/api/v1/portal/signatures/request", headers=worker).status_code == 409

    # The company, then the presiding mediator on the case page's action: the agreement is signed.
    sent = client.post("/api/v1/portal/signatures/request", headers=company)
    assert sent.status_code == 200, sent.text
    code = _otp(engine, COMPANY_PHONE)
    r = client.post(
        "/api/v1/portal/signatures", headers=company, json={"otp": code, "image_png_base64": png_b64(62)}
    )
    assert r.status_code == 200, r.text
    assert staff.get(f"/cases/{cid}").json()["stage"] == "agreed"
    r = staff.post(f"/cases/{cid}/agreement/presiding-signature", {"image_png_base64": png_b64(63)})
    assert r.status_code == 200, r.text
    assert r.json() == {"signed": True, "missing": [], "stage": "follow_up"}
    drain(engine)

    with Session(engine) as session:
        signatures = session.exec(select(RemoteSignature).where(RemoteSignature.case_id == cid)).all()
        assert len(signatures) == 3
        first = session.exec(
            select(Document)
            .where(Document.case_id == cid, Document.kind == "agreement")
            .order_by(Document.id)
        ).all()
        assert len(first) == 2  # issued, then reissued with the signatures
        assert {s.agreement_sha256 for s in signatures} == {first[0].sha256}
        codes = session.exec(select(SignatureCode).where(SignatureCode.case_id == cid)).all()
        assert all(c.used_at is not None and len(c.code_hash) > 60 for c in codes)
        assert {s.message_id for s in signatures if s.party_id} == {c.message_id for c in codes}
        unsigned, reissued = (get_settings().data_dir / d.path for d in first)

    def image_sizes(path) -> set[tuple[int, int]]:
        return {img.image.size for page in PdfReader(path).pages for img in page.images if img.image}

    # The worker's (61 px wide), the company's (62) and the mediator's (63) signatures, in the reissue only.
    assert image_sizes(reissued) == {(61, 24), (62, 24), (63, 24)}
    assert image_sizes(unsigned) == set()
    assert client.get("/api/v1/portal/me", headers=worker).json()["agreement"]["signed"]


def test_marriage_matters_are_not_signed_electronically(engine, client, as_user) -> None:
    staff = as_user("clerk")
    body = _body(
        category="marriage_family", summary="夫妻因离婚财产分割发生纠纷。", claims="请求分割共同财产。"
    )
    body["parties"][1] = {"role": "respondent", "kind": "person", "name": "李某", "id_number": person_id(602)}
    cid = _accepted(
        engine, staff, **{k: v for k, v in body.items() if k != "parties"}, parties=body["parties"]
    )
    ids = _parties(engine, cid)
    worker = _as_party(client, staff, cid, ids[WORKER], WORKER_ID[-6:])
    r = client.post("/api/v1/portal/signatures/request", headers=worker)
    assert (
        r.status_code == 409
        and ESIGN_3_1 in r.json()["detail"]
        and "《电子签名法》第三条" in r.json()["detail"]
    )


def test_after_closing_the_party_rates_the_mediation(engine, client, as_user, experts) -> None:
    staff = as_user("clerk")
    cid = _accepted(engine, staff)
    members = [{"expert_id": experts["mediator_yuhai"], "role": "lead"}]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    sid = staff.post(f"/cases/{cid}/sessions", {"scheduled_at": at, "location": "第一调解室"}).json()["id"]
    record = {
        "held_at": datetime.now(UTC).isoformat(),
        "attendees": [WORKER, "张经理"],
        "notes": "未能达成一致。",
    }
    r = staff.post(f"/cases/{cid}/sessions/{sid}/record", {**record, "outcome": "failed"})
    assert r.status_code == 200, r.text
    drain(engine)
    ids = _parties(engine, cid)
    worker = _as_party(client, staff, cid, ids[WORKER], WORKER_ID[-6:])
    view = client.get("/api/v1/portal/me", headers=worker).json()
    assert view["stage_label"] == "结案" and view["can_rate"] and view["rating"] is None

    r = client.post("/api/v1/portal/satisfaction", headers=worker, json={"rating": 5})
    assert r.status_code == 422
    r = client.post(
        "/api/v1/portal/satisfaction", headers=worker, json={"rating": 2, "comment": "<b>调解员很耐心</b>"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["rating"] == {"rating": 2, "label": "基本满意", "comment": "<b>调解员很耐心</b>"}
    # A second rating replaces the first: one per party, counted for the 满意率 (4, 3 and 2 satisfied).
    r = client.post("/api/v1/portal/satisfaction", headers=worker, json={"rating": 1})
    assert r.json()["rating"]["label"] == "不满意"
    company = _as_party(client, staff, cid, ids[COMPANY], COMPANY_CODE[-6:])
    assert client.post("/api/v1/portal/satisfaction", headers=company, json={"rating": 4}).status_code == 200
    with Session(engine) as session:
        assert satisfaction_counts(session) == {"1": 1, "4": 1}
        # No 回访 asked this case: its satisfaction is its parties' least satisfied rating (不满意), so
        # the dashboard's 满意率 over this one case is 0 of 1 answered.
        today = datetime.now(CHINA).date()
        quality = quality_summary(session, scope=true(), date_from=today - timedelta(days=1), date_to=today)
        assert (quality["answered"], quality["satisfaction_rate"]) == (1, 0.0)
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "portal.rate")).all()
        assert len(rows) == 3 and all("调解员" not in json.dumps(r.after, ensure_ascii=False) for r in rows)
