"""The 人民调解卷宗 binder (issue 22): one PDF of the case's file, archived and verifiable like every
document.

Order: 封面 (人民调解法 第27条: the file's cover — 卷名, 卷号, 人民调解员, 调解日期, 立卷人, 立卷日期,
保管期限),
卷内目录 (each piece and the binder page it starts on), then every item of models/dossier.checklist in its
order — the archived PDFs and uploaded PDFs merged by pypdf, uploaded images placed on A4 pages, and the
sheets the binder prints itself (身份核对情况, 送达情况一览, 卷宗情况说明) — and the 封底.

Page numbers are computed from the real page counts of every piece; the 目录 is laid out again until its
own length stops changing the numbers it prints. Each page then gets its binder page number stamped at
the top (卷内文件逐页编号) with the item it belongs to, so a reader — and the tests — can check the 目录.
Nothing here fetches a URL: images are read from the archive and passed as data: URLs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pypdf import PdfReader, PdfWriter
from sqlmodel import Session, col, select

from documents.context import _base, _parties, _presiding, subject_of
from documents.issue import file_issued
from documents.render import html_to_pdf, qr_svg, template_environment
from documents.verification import new_verify_code, verify_url
from models.case import Case
from models.db import id_of
from models.deadlines import china_date
from models.delivery import Delivery
from models.document import Document
from models.dossier import RETENTION, CaseFile, Item, Part, checklist, load_case_file, missing_required
from models.enums import CloseKind, DeliveryMethod, DeliveryStatus, DocumentKind
from models.law import citation
from models.party import Party
from models.user import User


@dataclass
class Piece:
    """One run of pages in the binder: which item, its title in the 目录, its PDF."""

    item: str
    title: str
    pdf: bytes
    pages: int
    start: int = 0  # binder page number (the cover is page 1)


def volume_no(case: Case) -> str:
    """卷号 "（2026）瑞人调字第17号" from the case number 瑞调〔2026〕00017号 (the place's short name,
    the registration year, the year's sequence)."""
    match = re.match(r"^(.*?)调〔(\d{4})〕0*(\d+)号$", case.case_no or "")
    if match is None:
        return f"（{case.created_at.year}）人调字第{case.id}号"
    place, year, seq = match.groups()
    return f"（{year}）{place}人调字第{seq}号"


def _sheet(name: str, context: dict[str, Any]) -> bytes:
    html = template_environment().get_template(f"dossier_{name}.html").render(context)
    return html_to_pdf(html)


def _page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _read(path: str, data_dir: Path) -> bytes:
    return (Path(data_dir) / path).read_bytes()


def _part_pdf(part: Part, data_dir: Path, base: dict) -> bytes:
    raw = _read(part.path or "", data_dir)
    if part.content_type == "application/pdf":
        return raw
    url = f"data:{part.content_type};base64,{base64.b64encode(raw).decode('ascii')}"
    return _sheet("image", {**base, "caption": part.title, "image_url": url})


def _delivery_rows(session: Session, case: Case) -> list[dict]:
    rows = session.exec(
        select(Delivery, Document, Party)
        .join(Document, col(Document.id) == Delivery.document_id)
        .join(Party, col(Party.id) == Delivery.party_id)
        .where(Delivery.case_id == case.id)
        .order_by(col(Delivery.id))
    ).all()
    return [
        {
            "document": DocumentKind(doc.kind).label,
            "party": party.name,
            "method": DeliveryMethod(d.method).label if d.method else "",
            "status": DeliveryStatus(d.status).label,
            "delivered_at": d.delivered_at,
            "signer": d.signer_name or "",
        }
        for d, doc, party in rows
    ]


def _explanation(session: Session, cf: CaseFile, items: list[Item]) -> dict:
    closing = cf.closing
    approver = session.get(User, closing.approved_by) if closing and closing.approved_by else None
    reason = closing.override_reason if closing else None
    return {
        "close_kind": CloseKind(closing.kind).label if closing else "",
        "close_note": closing.note if closing else "",
        "override_reason": reason or "",
        "missing": missing_required(items),
        "approver": approver.display_name if approver else "",
        "closed_on": china_date(closing.approved_at) if closing and closing.approved_at else None,
    }


def _pieces(session: Session, cf: CaseFile, items: list[Item], data_dir: Path, base: dict) -> list[Piece]:
    pieces: list[Piece] = []

    def add(item: Item, title: str, pdf: bytes) -> None:
        pieces.append(Piece(item.label, title, pdf, _page_count(pdf)))

    for item in items:
        generated = [p for p in item.parts if p.source == "generated"]
        for part in item.parts:
            if part.source != "generated":
                add(item, part.title, _part_pdf(part, data_dir, base))
        if not generated:
            continue
        if item.code == "identity":
            add(
                item,
                "当事人身份核对情况",
                _sheet("identity", {**base, "lines": [p.title for p in generated]}),
            )
        elif item.code == "delivery":
            add(item, "送达情况一览", _sheet("delivery", {**base, "rows": _delivery_rows(session, cf.case)}))
        elif item.code == "explanation":
            context = {**base, **_explanation(session, cf, items)}
            add(item, "卷宗情况说明", _sheet("explanation", context))
    return pieces


def build_dossier(
    session: Session,
    case: Case,
    *,
    compiler: str,
    now: datetime,
    data_dir: Path,
    verify_code: str,
    base_url: str,
) -> bytes:
    """The binder's PDF bytes for `case` as its file stands at `now`; `compiler` is the 立卷人's name."""
    cf = load_case_file(session, case)
    items = checklist(session, case, case_file=cf)
    parties = _parties(session, case)
    url = verify_url(base_url, verify_code)
    base = {**_base(session, case), "subject": subject_of(case, parties)}
    pieces = _pieces(session, cf, items, Path(data_dir), base)
    held = [china_date(ms.held_at) for ms in cf.held if ms.held_at]
    cover = {
        **base,
        "volume_no": volume_no(case),
        "mediator": _presiding(session, case),
        "mediated_from": held[0] if held else None,
        "mediated_to": held[-1] if held else None,
        "compiler": compiler,
        "compiled_on": china_date(now),
        "retention": RETENTION,
        "basis": citation("pml_27").cite,
        "verify_code": verify_code,
        "verify_url": url,
        "qr_svg": qr_svg(url),
        "close_kind": CloseKind(case.close_kind).label if case.close_kind else "",
        "missing": missing_required(items),
    }
    back_cover = {**base, "compiler": compiler, "compiled_on": china_date(now)}
    back = _sheet("back_cover", back_cover)
    cover_pages = _page_count(_sheet("cover", {**cover, "total_pages": 0}))
    toc_pages = 1
    for _ in range(5):
        # The 目录's own length moves every number it prints: lay it out until it stops changing.
        page = cover_pages + toc_pages + 1
        for piece in pieces:
            piece.start = page
            page += piece.pages
        back_start = page
        total = page + _page_count(back) - 1
        rows = [{"item": p.item, "title": p.title, "start": p.start, "pages": p.pages} for p in pieces]
        rows.append({"item": "封底", "title": "封底", "start": back_start, "pages": _page_count(back)})
        toc = _sheet("toc", {**cover, "rows": rows})
        if _page_count(toc) == toc_pages:
            break
        toc_pages = _page_count(toc)
    writer = PdfWriter()
    labels: list[str] = []
    writer.append(io.BytesIO(_sheet("cover", {**cover, "total_pages": total})))
    writer.append(io.BytesIO(toc))
    labels += ["封面"] * cover_pages + ["卷内目录"] * toc_pages
    for piece in pieces:
        # Each issued piece carries its own PDF signature, which no longer covers it once bound (the
        # binder is signed as a whole when filed); its field and widget are left behind.
        writer.append(io.BytesIO(piece.pdf), excluded_fields=("/Annots", "/B", "/AcroForm"))
        # The piece's first page names it, so the 目录's line can be found on the page it gives.
        first = piece.item if piece.title == piece.item else f"{piece.item}　{piece.title}"
        labels += [first] + [piece.item] * (piece.pages - 1)
    writer.append(io.BytesIO(back))
    labels += ["封底"] * _page_count(back)
    stamps = PdfReader(io.BytesIO(_sheet("stamps", {"stamps": list(enumerate(labels, start=1))})))
    for binder_page, stamp in zip(writer.pages, stamps.pages, strict=True):
        binder_page.merge_page(stamp)
    writer.root_object.pop("/AcroForm", None)
    writer.add_metadata({"/Title": f"人民调解卷宗 {case.case_no}"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def file_state(session: Session, case: Case) -> str:
    """A short fingerprint of what the binder is made of: its pieces, the deliveries, the 结案 and the
    stage (a document or upload added, a delivery recorded or the case closed makes a new binder)."""
    cf = load_case_file(session, case)
    parts = [
        (i.code, p.source, p.id, p.title) for i in checklist(session, case, case_file=cf) for p in i.parts
    ]
    deliveries = session.exec(
        select(Delivery).where(Delivery.case_id == case.id).order_by(col(Delivery.id))
    ).all()
    closing = (cf.closing.id, cf.closing.override_reason) if cf.closing else None
    state = repr(
        (parts, [(d.id, d.status, d.delivered_at) for d in deliveries], closing, case.stage, case.close_kind)
    )
    return hashlib.sha256(state.encode()).hexdigest()[:24]


def issue_dossier(
    session: Session, *, case: Case, actor: User, now: datetime, data_dir: Path, base_url: str
) -> Document:
    """Build, archive and record the 卷宗 (kind `dossier`) once per state of the file: asked again with
    nothing changed, the binder already issued is returned; a changed file is a new version."""
    subject = f"dossier:{case.id}:{file_state(session, case)}"
    same = session.exec(select(Document).where(Document.subject_key == subject)).first()
    if same is not None:
        return same
    code = new_verify_code()
    pdf = build_dossier(
        session,
        case,
        compiler=actor.display_name or actor.username,
        now=now,
        data_dir=data_dir,
        verify_code=code,
        base_url=base_url,
    )
    previous = session.exec(
        select(Document)
        .where(Document.case_id == case.id, Document.kind == DocumentKind.dossier)
        .order_by(col(Document.id).desc())
    ).first()
    return file_issued(
        session,
        pdf,
        case_id=id_of(case),
        kind=DocumentKind.dossier.value,
        subject_key=subject,
        verify_code=code,
        previous=previous,
        version_no=(previous.version_no + 1) if previous else 1,
        data_dir=Path(data_dir),
        now=now,
        actor_id=actor.id,
        actor_name=actor.username,
    )
