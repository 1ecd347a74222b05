"""Issuing a document: case → context → HTML → PDF → archive by SHA-256 → Document row + audit.

Idempotent per subject: a rerun for the same `subject_key` returns the document already issued.
A corrected document (`new_version=True`, or a new subject key of the same kind, such as the next
revision of an agreement) is a new row that `supersedes` the previous one; nothing is overwritten."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from documents.context import BUILDERS
from documents.notices import NOTICE_BUILDERS
from documents.render import render_pdf
from documents.storage import archive
from documents.verification import new_verify_code
from models.audit import record
from models.case import Case
from models.db import utcnow
from models.document import Document


def issue_document(
    session: Session,
    *,
    case_id: int | None,
    kind: str,
    subject_key: str,
    data_dir: Path,
    base_url: str,
    new_version: bool = False,
    actor_id: int | None = None,
    as_of: datetime | None = None,
) -> Document:
    """Issue the document of `kind` for `subject_key` once; its figures are as of `as_of` (default now)."""
    existing = session.exec(
        select(Document).where(Document.subject_key == subject_key).order_by(col(Document.version_no).desc())
    ).first()
    if existing is not None and not new_version:
        return existing
    case = session.get(Case, case_id) if case_id is not None else None
    now = utcnow()
    context = (NOTICE_BUILDERS.get(kind) or BUILDERS[kind])(session, case, subject_key, as_of or now)
    code = new_verify_code()
    context["verify_code"] = code
    context["verify_base_url"] = base_url
    pdf = render_pdf(kind, context)
    previous = existing or _latest_of_kind(session, case_id, kind, subject_key)
    return file_issued(
        session,
        pdf,
        case_id=case_id,
        kind=kind,
        subject_key=subject_key,
        verify_code=code,
        previous=previous,
        version_no=(existing.version_no + 1) if existing else 1,
        data_dir=data_dir,
        now=now,
        actor_id=actor_id,
        actor_name="system",
    )


def file_issued(
    session: Session,
    pdf: bytes,
    *,
    case_id: int | None,
    kind: str,
    subject_key: str,
    verify_code: str,
    previous: Document | None,
    version_no: int,
    data_dir: Path,
    now: datetime,
    actor_id: int | None,
    actor_name: str,
) -> Document:
    """Archive a rendered PDF by its SHA-256 and record it: the Document row and its audit event."""
    sha256, path = archive(pdf, Path(data_dir))
    doc = Document(
        case_id=case_id,
        kind=kind,
        subject_key=subject_key,
        version_no=version_no,
        supersedes_id=previous.id if previous else None,
        sha256=sha256,
        verify_code=verify_code,
        path=str(path.relative_to(Path(data_dir))),
        size_bytes=len(pdf),
        created_at=now,
        created_by=actor_id,
    )
    session.add(doc)
    session.flush()
    record(
        session,
        actor_id=actor_id,
        actor_name=actor_name,
        action="document.issue",
        entity="document",
        entity_id=doc.id,
        case_id=case_id,
        at=now,
        after={"kind": kind, "sha256": sha256, "subject": subject_key, "version_no": doc.version_no},
    )
    return doc


def _latest_of_kind(session: Session, case_id: int | None, kind: str, subject_key: str) -> Document | None:
    """An agreement's next revision supersedes the previous revision's document."""
    if case_id is None or kind != "agreement":
        return None
    return session.exec(
        select(Document)
        .where(Document.case_id == case_id, Document.kind == kind, Document.subject_key != subject_key)
        .order_by(col(Document.id).desc())
    ).first()
