"""The case page's 卷宗 section (issue 22): upload a file, download it, print the binder."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.deps import IdPath
from api.html import engine_of, redirect
from api.pages.actions import load_visible_case, run_action
from api.pages.common import EVERYONE, STAFF, PageRoute, form_of, require
from api.routes.dossier import attachment_file, dossier_file
from flows import attachments, dossier
from models.access import attachment_refusal
from models.attachment import MAX_ATTACHMENT_BYTES, Attachment
from models.case import Case
from models.db import session_scope, utcnow
from models.dossier import checklist, missing_required
from models.enums import AttachmentKind, CloseKind
from models.lifecycle import DomainError
from models.party import Party
from models.user import User
from runtime.relay import after_commit

router = APIRouter(route_class=PageRoute)


def dossier_section(session: Session, case: Case, user: User, close_kinds: list[CloseKind]) -> dict[str, Any]:
    """What the case page shows of the 卷宗: the checklist, the files, and what a 结案 of each kind the
    closing form offers still lacks (the same rule close_case applies)."""
    items = checklist(session, case)
    lacking: dict[tuple[str, ...], list[str]] = {}
    for kind in close_kinds:
        missing = tuple(missing_required(checklist(session, case, close_kind=kind)))
        if missing:
            lacking.setdefault(missing, []).append(kind.label)
    single = len(lacking) == 1 and sum(len(v) for v in lacking.values()) == len(close_kinds)
    rows = session.exec(
        select(Attachment).where(Attachment.case_id == case.id).order_by(col(Attachment.id))
    ).all()
    names = {p.id: p.name for p in session.exec(select(Party).where(Party.case_id == case.id)).all()}
    return {
        "items": [i.public() for i in items],
        # One list when every kind lacks the same; else each kind's own ("以“撤回”结案尚缺…").
        "missing": [
            m if single else f"以“{'、'.join(kinds)}”结案尚缺{m}"
            for missing, kinds in lacking.items()
            for m in missing
        ],
        "files": [
            {
                "id": a.id,
                "kind_label": AttachmentKind(a.kind).label,
                "party": names.get(a.party_id or 0, ""),
                "filename": a.filename,
                "size_kb": max(1, round(a.size / 1024)),
            }
            for a in rows
        ],
        "may_download": attachment_refusal(session, user, case.id or 0) is None,
        "kinds": [(k.value, k.label) for k in AttachmentKind],
    }


@router.post("/cases/{case_id}/attachments", include_in_schema=False)
async def upload(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    back = f"/cases/{case_id}#dossier"
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return redirect(back, flash="请选择要上传的文件", kind="error")
    data = await upload.read(MAX_ATTACHMENT_BYTES + 1)
    if len(data) > MAX_ATTACHMENT_BYTES:
        return redirect(back, flash="上传文件不超过 20 MB", kind="error")
    raw_party = str(form.get("party_id") or "").strip()
    return await run_in_threadpool(
        run_action,
        request,
        user,
        case_id,
        attachments.add_attachment,
        done="材料已上传",
        back=back,
        kind=str(form.get("kind") or ""),
        filename=upload.filename,
        data=data,
        party_id=int(raw_party) if raw_party.isdigit() and len(raw_party) < 10 else None,
    )


@router.get("/cases/{case_id}/attachments/{attachment_id}/file", include_in_schema=False)
def download(case_id: IdPath, attachment_id: IdPath, request: Request) -> FileResponse:
    user = require(request, *EVERYONE)
    with Session(engine_of(request)) as session:
        load_visible_case(session, user, case_id)
        return attachment_file(session, user, case_id, attachment_id)


@router.get("/cases/{case_id}/dossier", include_in_schema=False)
def binder(case_id: IdPath, request: Request) -> Response:
    user = require(request, *EVERYONE)
    try:
        with session_scope(engine_of(request), write=True) as session:
            case = load_visible_case(session, user, case_id)
            doc = dossier.case_dossier(session=session, case=case, actor=user, now=utcnow())
    except DomainError as exc:
        return redirect(f"/cases/{case_id}#dossier", flash=exc.message, kind="error")
    after_commit()
    return dossier_file(doc)
