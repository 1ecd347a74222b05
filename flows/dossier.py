"""The 人民调解卷宗 actions (issue 22): its checklist and its binder, for the JSON routes and the pages."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from documents.dossier import issue_dossier
from models.access import document_refusal
from models.case import Case
from models.document import Document
from models.dossier import Item, checklist
from models.enums import DocumentKind
from models.lifecycle import Forbidden, NotFound
from models.roles import STAFF
from models.settings import get_settings
from models.user import User


def case_checklist(*, session: Session, case: Case, actor: User, now: datetime) -> list[Item]:
    """The 卷内目录 items as the file stands (how a case ends, if decided, picks the agreement's item)."""
    return checklist(session, case)


def case_dossier(*, session: Session, case: Case, actor: User, now: datetime) -> Document:
    """The binder: built (立卷) by the center's staff — a new version only when the file changed since
    the last one — and read by others who may read the case's full documents, as the last one built."""
    if actor.role in STAFF:
        settings = get_settings()
        return issue_dossier(
            session,
            case=case,
            actor=actor,
            now=now,
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
        )
    latest = session.exec(
        select(Document)
        .where(Document.case_id == case.id, Document.kind == DocumentKind.dossier)
        .order_by(col(Document.id).desc())
    ).first()
    if latest is None:
        raise NotFound("本案尚未立卷：卷宗由中心工作人员立卷后方可查阅")
    refusal = document_refusal(session, actor, latest)
    if refusal is not None:
        raise Forbidden(refusal[1])
    return latest
