"""Issuing a document: case → context → HTML → PDF → signature (PAdES) → archive by SHA-256 → row + audit.

Idempotent per subject: a rerun for the same `subject_key` returns the document already issued.
A corrected document (`new_version=True`, or a new subject key of the same kind, such as the next
revision of an agreement) is a new row that `supersedes` the previous one; nothing is overwritten."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from documents.context import BUILDERS
from documents.enforcement import ENFORCEMENT_BUILDERS
from documents.notices import NOTICE_BUILDERS, addressed_party_id
from documents.render import render_pdf
from documents.signing import sign_pdf
from documents.storage import archive
from documents.verification import new_verify_code
from models.audit import record
from models.case import Case
from models.db import utcnow
from models.delivery import NOTICE_ADDRESSEES
from models.document import Document
from models.party import Party
from models.party_access import format_code, page_url, party_code

# 一案一码: the notices that carry the addressee's own code (QR and text) for the party's page.
PARTY_CODE_KINDS = frozenset({"acceptance_notice", "respondent_notice", "panel_notice", "session_notice"})


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
    context = (NOTICE_BUILDERS.get(kind) or ENFORCEMENT_BUILDERS.get(kind) or BUILDERS[kind])(
        session, case, subject_key, as_of or now
    )
    code = new_verify_code()
    context["verify_code"] = code
    context["verify_base_url"] = base_url
    if case is not None and kind in PARTY_CODE_KINDS:
        context["party_access"] = party_access(session, case, kind, subject_key, base_url)
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
    """Sign a rendered PDF with the center's certificate, archive it by its SHA-256 and record it: the
    Document row and its audit event. The SHA-256 recorded (and checked by /verify) is of the signed bytes."""
    pdf = sign_pdf(pdf)
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


def party_access(session: Session, case: Case, kind: str, subject_key: str, base_url: str) -> list[dict]:
    """The code of each party a notice is addressed to: one when it is addressed to one party, else every
    party of the roles it is for (each member of a group has its own page)."""
    if ":party:" in subject_key:
        one = session.get(Party, addressed_party_id(subject_key))
        parties = [one] if one is not None else []
    else:
        roles = NOTICE_ADDRESSEES.get(kind, ("applicant",))
        parties = list(
            session.exec(
                select(Party)
                .where(Party.case_id == case.id, col(Party.role).in_(roles))
                .order_by(col(Party.id))
            ).all()
        )
    out = []
    for party in parties:
        code = party_code(session, party)
        out.append({"name": party.name, "code": format_code(code), "url": page_url(code, base_url)})
    return out
