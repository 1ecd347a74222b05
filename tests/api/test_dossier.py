"""The 人民调解卷宗 (issue 22 point 1): attachments judged by content, the checklist, the binder read back
page by page, and 结案 refused while a 必须 item is missing (API and page), unless the director approves."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from pyhanko.sign.validation.status import SignatureCoverageLevel

from documents.render import html_to_pdf
from models.db import utcnow
from runtime.relay import drain
from tests.documents.test_signature import center_certificate, validate_signature
from tests.factories import add_user, neighbor_case, png_bytes
from tests.support.pdf import compact, pdf_pages
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres  # uploads, the archive and the close guard: run on both databases

PDF_MIME = "application/pdf"


def _now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (20, 120, 20)).save(out, format="JPEG")
    return out.getvalue()


def _upload(api, cid: int, kind: str, name: str, data: bytes, party_id: int | None = None):
    form = {"kind": kind} | ({"party_id": str(party_id)} if party_id else {})
    return api.client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=api.headers,
        data=form,
        files={"file": (name, data, "application/octet-stream")},
    )


def _to_a_session(engine, users, experts) -> tuple[int, int]:
    """A neighbour case accepted, its panel formed (李调解 presiding), a session scheduled."""
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts)
    s.registered().accepted().panel("mediator_tangxia", "elder_tangxia")
    return s.case, s.scheduled(utcnow() + timedelta(days=1), location="塘下镇调解室").session


def _agreed_and_performed(staff, engine, users, experts) -> int:
    """A neighbour case both parties attended, agreed, signed, performed (the 回访 says so)."""
    cid, sid = _to_a_session(engine, users, experts)
    r = staff.post(
        f"/cases/{cid}/sessions/{sid}/record",
        {
            "held_at": _now_iso(),
            "attendees": ["陈阿大", "林小二"],
            "notes": "达成一致。",
            "outcome": "agreed",
        },
    )
    assert r.status_code == 200, r.text
    due = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    terms = [
        {
            "obligor": "林小二",
            "obligee": "陈阿大",
            "obligation": "赔偿损失",
            "amount": "1500.00",
            "due_date": due,
        }
    ]
    r = staff.post(f"/cases/{cid}/agreement", {"terms": terms, "performance_method": "当面交付现金"})
    assert r.status_code == 201, r.text
    drain(engine)
    assert staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _now_iso()}).status_code == 200
    r = staff.post(f"/cases/{cid}/follow-ups", {"performed": True, "notes": "已赔偿"})
    assert r.status_code == 201, r.text
    drain(engine)
    return cid


def _page_texts(pdf: bytes) -> list[str]:
    """Each page's text as pdftotext reads it, whitespace removed (it spaces CJK characters apart)."""
    return [compact(page) for page in pdf_pages(pdf)]


def _toc_rows(pdf: bytes, toc_pages: list[int]) -> list[tuple[str, str, int, int]]:
    """(材料类别, 题名, 起始页, 页数) of each row of the 卷内目录, read with pdftotext -layout."""
    pages = pdf_pages(pdf, layout=True)
    rows = []
    for n in toc_pages:
        for line in pages[n - 1].splitlines():
            m = re.match(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+第(\d+)页\s+(\d+)\s*$", line)
            if m:
                rows.append((m.group(2), m.group(3), int(m.group(4)), int(m.group(5))))
    return rows


def test_attachments_are_judged_by_content_and_limited(engine, as_user, experts):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    applicant = staff.get(f"/cases/{cid}").json()["parties"][0]["id"]
    # A PNG named .pdf is a PNG.
    r = _upload(staff, cid, "id_copy", "身份证.pdf", png_bytes(), party_id=applicant)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (
        body["content_type"] == "image/png" and body["filename"] == "身份证.png" and body["kind"] == "id_copy"
    )
    assert body["sha256"] == hashlib.sha256(png_bytes()).hexdigest() and body["size"] == len(png_bytes())
    # A program named .pdf is refused, in Chinese, naming the field.
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode."
    r = _upload(staff, cid, "evidence", "证据.pdf", exe)
    assert r.status_code == 422 and "PDF、JPEG 或 PNG" in r.text
    # A file with PDF magic that pypdf cannot open is refused too (422, never 500).
    r = _upload(staff, cid, "evidence", "坏.pdf", b"%PDF-1.7\n garbage")
    assert r.status_code == 422 and "无法作为 PDF 打开" in r.text
    # An ID copy must name whose it is; a party of another case is refused.
    assert _upload(staff, cid, "id_copy", "x.png", png_bytes()).status_code == 422
    other = staff.post("/cases", neighbor_case()).json()["id"]
    stranger = staff.get(f"/cases/{other}").json()["parties"][0]["id"]
    assert _upload(staff, cid, "id_copy", "x.png", png_bytes(), party_id=stranger).status_code == 422
    assert _upload(staff, cid, "nonsense", "x.png", png_bytes()).status_code == 422
    # Over 20 MB: 413 before the body is read.
    big = b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024 + 10)
    assert _upload(staff, cid, "evidence", "大.pdf", big).status_code == 413
    listed = staff.get(f"/cases/{cid}/attachments").json()
    assert [a["filename"] for a in listed] == ["身份证.png"]
    # Download: the bytes as uploaded; a lawyer not on the case does not learn it exists; a leader who
    # sees personal data masked may not take an ID copy.
    url = listed[0]["url"].removeprefix("/api/v1")
    got = staff.get(url)
    assert (
        got.status_code == 200 and got.content == png_bytes() and got.headers["content-type"] == "image/png"
    )
    assert as_user("otherlawyer").get(url).status_code == 404
    assert as_user("otherlawyer").get(f"/cases/{cid}/attachments").status_code == 404
    assert as_user("director").get(url).status_code == 403
    # A lawyer cannot upload.
    assert _upload(as_user("zhoulawyer"), cid, "evidence", "x.png", png_bytes()).status_code == 403
    # The audit row names the kind and fingerprint, never the file's name (it may carry a person's name).
    timeline = staff.get(f"/cases/{cid}").json()["timeline"]
    assert any(t["action"] == "attachment.add" for t in timeline)
    assert "身份证.pdf" not in str(timeline) and "身份证.png" not in str(timeline)


def test_binder_of_a_finished_case_reads_back(engine, as_user, users, experts, tmp_path):
    staff = as_user("clerk")
    cid = _agreed_and_performed(staff, engine, users, experts)
    parties = staff.get(f"/cases/{cid}").json()["parties"]
    evidence = html_to_pdf("<h1>欠条复印件</h1><p>林小二欠陈阿大一千五百元。</p>")
    assert _upload(staff, cid, "evidence", "欠条.pdf", evidence).status_code == 201
    assert _upload(staff, cid, "performance_proof", "收条.jpg", _jpeg()).status_code == 201
    assert (
        _upload(staff, cid, "id_copy", "身份证.png", png_bytes(), party_id=parties[0]["id"]).status_code
        == 201
    )
    r = staff.post(f"/cases/{cid}/close", {"kind": "performed", "note": "协议全部履行"})
    assert r.status_code == 200, r.text
    drain(engine)
    # Once closed, the file stays as it was judged.
    r = _upload(staff, cid, "evidence", "补充.png", png_bytes())
    assert r.status_code == 409 and "已结案" in r.text and "不能再添加" in r.text

    checklist = staff.get(f"/cases/{cid}/dossier/checklist").json()
    required = [i["item"] for i in checklist if i["required"]]
    assert required == [
        "人民调解申请书（受理登记表）",
        "当事人权利义务告知书",
        "当事人身份证明",
        "人民调解记录",
        "人民调解协议书",
        "封底",
    ]
    assert all(i["present"] for i in checklist if i["required"]), checklist
    by_item = {i["item"]: i for i in checklist}
    assert by_item["授权委托书"]["required"] is False  # nobody has an agent
    assert [d["title"] for d in by_item["证据材料"]["documents"]] == ["证据材料：欠条.pdf"]

    r = staff.get(f"/cases/{cid}/dossier")
    assert r.status_code == 200 and r.headers["content-type"] == PDF_MIME
    pdf = r.content
    pages = _page_texts(pdf)
    assert "人民调解卷宗" in pages[0] and "卷号" in pages[0]
    case_no = staff.get(f"/cases/{cid}").json()["case_no"]
    seq = int(re.search(r"〔(\d{4})〕0*(\d+)号", case_no).group(2))
    year = re.search(r"〔(\d{4})〕", case_no).group(1)
    assert f"（{year}）瑞人调字第{seq}号" in pages[0]
    assert "李调解" in pages[0] and "蔡受理" in pages[0]  # 人民调解员 and 立卷人 (the clerk's real name)
    assert f"本卷页数共{len(pages)}页" in pages[0]
    toc_pages = [n for n, t in enumerate(pages, start=1) if "卷内目录" in t and "第" in t][:3]
    rows = _toc_rows(pdf, toc_pages)
    assert rows, pages[1]
    # Every row starts on the page it names: the page carries the binder's number and the piece's title,
    # and the rows follow one another without gap or overlap, up to the last page.
    expected_start = rows[0][2]
    for item, title, start, count in rows:
        assert start == expected_start, (item, title, start)
        page = pages[start - 1]
        assert f"卷内第{start}页" in page and title in page and item in page, (item, title, start, page[:200])
        expected_start = start + count
    assert expected_start - 1 == len(pages)
    items = [row[0] for row in rows]
    for label in ("人民调解申请书（受理登记表）", "当事人权利义务告知书", "当事人身份证明", "人民调解记录"):
        assert label in items, items
    assert "人民调解协议书" in items and items[-1] == "封底"
    # Each archived document's own heading is on the page where the 目录 starts it.
    starts = {title: start for _, title, start, _ in rows}
    assert "人民调解协议书" in pages[starts["人民调解协议书"] - 1]
    assert "欠条复印件" in pages[starts["证据材料：欠条.pdf"] - 1]
    assert "林小二：到场核对身份" in "".join(pages)  # the respondent proven by attendance
    # Archived and verifiable like every document; asked again with nothing changed, the same binder.
    doc_id = r.headers["x-dossier-document-id"]
    again = staff.get(f"/cases/{cid}/dossier")
    assert again.headers["x-dossier-document-id"] == doc_id and again.content == pdf
    verify = staff.client.get(f"/verify/{hashlib.sha256(pdf).hexdigest()}")
    assert verify.status_code == 200 and verify.json()["kind"] == "dossier"
    docs = staff.get(f"/cases/{cid}/documents").json()
    assert [d["kind"] for d in docs].count("dossier") == 1
    # Leaders see personal data masked: the binder holds ID copies, so they may not download it.
    assert as_user("director").get(f"/cases/{cid}/dossier").status_code == 403
    assert as_user("otherlawyer").get(f"/cases/{cid}/dossier").status_code == 404
    # The 司法局's reviewer reads the binder as filed (评查 is reading it); the case's own documents that
    # print personal data stay refused to it, as to the leaders.
    add_user(engine, "sfj", "reviewer", display_name="司法局评查员吴敏")
    read = as_user("sfj").get(f"/cases/{cid}/dossier")
    assert read.status_code == 200 and read.content == pdf
    agreement_doc = next(d for d in docs if d["kind"] == "agreement")
    assert as_user("sfj").get(f"/documents/{agreement_doc['id']}/pdf").status_code == 403
    # Signed as a whole by the center when filed (the pieces' own signatures are not carried over).
    intact, valid, coverage = validate_signature(pdf, center_certificate())
    assert intact and valid and coverage == SignatureCoverageLevel.ENTIRE_FILE


def _failed_without_the_applicant(staff, engine, users, experts) -> int:
    """A case that failed at a session the applicant did not attend: nobody checked the applicant's
    identity and no ID copy was filed, so the system's 结案 after the 终止调解告知书 is refused."""
    cid, sid = _to_a_session(engine, users, experts)
    r = staff.post(
        f"/cases/{cid}/sessions/{sid}/record",
        {
            "held_at": _now_iso(),
            "attendees": ["林小二"],
            "notes": "申请人未到场，调解不成。",
            "outcome": "failed",
        },
    )
    assert r.status_code == 200, r.text
    drain(engine)
    case = staff.get(f"/cases/{cid}").json()
    assert case["stage"] == "failed" and case["flagged"] and "卷宗不全" in case["flag_reason"]
    assert "termination_notice" in [d["kind"] for d in case["documents"]]
    return cid


def test_close_is_refused_while_a_required_item_is_missing(engine, as_user, users, experts):
    staff = as_user("clerk")
    cid = _failed_without_the_applicant(staff, engine, users, experts)
    before = staff.get(f"/cases/{cid}").json()
    checklist = {i["item"]: i for i in staff.get(f"/cases/{cid}/dossier/checklist").json()}
    assert checklist["当事人身份证明"]["present"] is False
    assert checklist["人民调解记录"]["present"] is True
    assert checklist["终止调解告知书（代人民调解协议书）"]["present"] is True
    r = staff.post(f"/cases/{cid}/close", {"kind": "failed", "note": "申请人未到场"})
    assert r.status_code == 409
    assert "当事人身份证明" in r.text and "陈阿大" in r.text
    after = staff.get(f"/cases/{cid}").json()
    assert after["stage"] == before["stage"] and after["version"] == before["version"]
    # Staff cannot override; a reason from staff changes nothing.
    r = staff.post(f"/cases/{cid}/close", {"kind": "failed", "override_reason": "急于结案"})
    assert r.status_code == 409
    # Once the applicant's ID copy is filed, the same 结案 goes through.
    applicant = before["parties"][0]["id"]
    assert _upload(staff, cid, "id_copy", "身份证.jpg", _jpeg(), party_id=applicant).status_code == 201
    r = staff.post(f"/cases/{cid}/close", {"kind": "failed", "note": "申请人未到场"})
    assert r.status_code == 200 and r.json()["stage"] == "closed", r.text
    assert staff.get(f"/cases/{cid}").json()["flagged"] is False


def test_director_override_is_printed_in_the_explanation(engine, as_user, users, experts, tmp_path):
    staff = as_user("clerk")
    cid = _failed_without_the_applicant(staff, engine, users, experts)
    reason = "申请人已迁居外省，身份证复印件无法补交，经核实系本人申请"
    # A town leader is not the director.
    r = as_user("yuhai").post(f"/cases/{cid}/close", {"kind": "failed", "override_reason": reason})
    assert r.status_code in (403, 404)
    # The director without a reason: still refused.
    assert as_user("director").post(f"/cases/{cid}/close", {"kind": "failed"}).status_code == 403
    r = as_user("director").post(
        f"/cases/{cid}/close", {"kind": "failed", "note": "申请人未到场", "override_reason": reason}
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "closed"
    drain(engine)
    checklist = {i["item"]: i for i in staff.get(f"/cases/{cid}/dossier/checklist").json()}
    assert checklist["卷宗情况说明"]["present"] is True
    pdf = staff.get(f"/cases/{cid}/dossier").content
    pages = _page_texts(pdf)
    explanation = next(p for p in pages if p.startswith("卷宗情况说明") or "卷宗情况说明" in p[:40])
    assert reason in explanation and "中心主任" in explanation and "当事人身份证明" in explanation
    # The audit keeps which item was overridden, not the reason's words or the names.
    timeline = staff.get(f"/cases/{cid}").json()["timeline"]
    assert reason not in str(timeline) and "陈阿大" not in str(
        [t for t in timeline if t["action"].startswith("case.close")]
    )


def test_an_agent_needs_a_letter_of_authority_and_an_early_end_needs_no_record(engine, as_user, experts):
    staff = as_user("clerk")
    body = neighbor_case()
    body["parties"][0] |= {"agent_name": "王代理", "agent_phone": "13905770000"}
    cid = staff.post("/cases", body).json()["id"]
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    drain(engine)
    applicant, respondent = (p["id"] for p in staff.get(f"/cases/{cid}").json()["parties"][:2])
    letters = {i["item"]: i for i in staff.get(f"/cases/{cid}/dossier/checklist").json()}["授权委托书"]
    assert letters["required"] is True and letters["present"] is False
    assert letters["missing"] == ["陈阿大委托王代理的授权委托书"]
    # The respondent has no agent: no letter of authority for it.
    r = _upload(staff, cid, "authorization", "委托书.png", png_bytes(), party_id=respondent)
    assert r.status_code == 422 and "未登记委托代理人" in r.text
    r = staff.post(f"/cases/{cid}/close", {"kind": "withdrawn", "note": "申请人撤回"})
    assert r.status_code == 409 and "授权委托书" in r.text and "当事人身份证明" in r.text
    assert (
        _upload(staff, cid, "authorization", "委托书.png", png_bytes(), party_id=applicant).status_code == 201
    )
    assert _upload(staff, cid, "id_copy", "身份证.png", png_bytes(), party_id=applicant).status_code == 201
    checklist = {i["item"]: i for i in staff.get(f"/cases/{cid}/dossier/checklist").json()}
    assert checklist["授权委托书"]["present"] is True
    # Withdrawn before any session: no 人民调解记录 to ask for; the 结案 issues the 终止调解告知书.
    r = staff.post(f"/cases/{cid}/close", {"kind": "withdrawn", "note": "申请人撤回"})
    assert r.status_code == 200 and r.json()["stage"] == "closed", r.text
    drain(engine)
    checklist = {i["item"]: i for i in staff.get(f"/cases/{cid}/dossier/checklist").json()}
    assert checklist["人民调解记录"]["required"] is False
    assert checklist["终止调解告知书（代人民调解协议书）"]["present"] is True
