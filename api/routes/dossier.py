"""The 人民调解卷宗 (issue 22): attachments, the checklist and the binder PDF."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.actions import act, load_case
from api.deps import CurrentUser, IdPath, SessionDep, StaffUser
from api.errors import ERROR_RESPONSES
from flows import attachments, dossier
from models.access import attachment_refusal
from models.attachment import MAX_ATTACHMENT_BYTES, Attachment
from models.document import Document
from models.enums import AttachmentKind
from models.lifecycle import InvalidInput
from models.public import AttachmentPublic, ChecklistItemPublic, ErrorPublic
from models.settings import get_settings
from models.validation import MAX_DB_ID

router = APIRouter(prefix="/cases", tags=["dossier"], responses=ERROR_RESPONSES)

PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "人民调解卷宗 PDF（归档原件，其 SHA-256 即核验指纹）",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    },
    410: {"model": ErrorPublic, "description": "归档文件缺失"},
}


def attachment_public(row: Attachment) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "kind_label": AttachmentKind(row.kind).label,
        "party_id": row.party_id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "created_at": row.created_at.isoformat(),
        "url": f"/api/v1/cases/{row.case_id}/attachments/{row.id}/file",
    }


async def read_upload(upload: UploadFile) -> bytes:
    """The file's bytes, read no further than one byte past the limit (never the whole of a larger one)."""
    data = await upload.read(MAX_ATTACHMENT_BYTES + 1)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise HTTPException(413, detail="上传文件不超过 20 MB")
    return data


def parse_party_id(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_DB_ID:
        raise InvalidInput("当事人编号应为正整数", field="party_id")
    return int(raw)


@router.post(
    "/{case_id}/attachments",
    status_code=201,
    response_model=AttachmentPublic,
    summary="上传卷宗材料（PDF、JPEG、PNG，按内容判断，不超过 20 MB）",
)
async def upload_attachment(
    case_id: IdPath,
    request: Request,
    user: StaffUser,
    file: Annotated[UploadFile, File(description="PDF、JPEG 或 PNG 文件")],
    kind: Annotated[
        str,
        Form(
            description="id_copy、authorization、evidence、investigation、performance_proof、signed_scan、other"
        ),
    ],
    party_id: Annotated[str | None, Form(description="所属当事人（身份证明、授权委托书必填）")] = None,
) -> dict:
    data = await read_upload(file)
    pid = parse_party_id(party_id)
    return await run_in_threadpool(
        act,
        request,
        user,
        case_id,
        attachments.add_attachment,
        render=lambda _s, _c, row: attachment_public(row),
        kind=kind,
        filename=file.filename,
        data=data,
        party_id=pid,
    )


@router.get("/{case_id}/attachments", response_model=list[AttachmentPublic], summary="卷宗材料列表")
def list_attachments(case_id: IdPath, session: SessionDep, user: CurrentUser) -> list[dict]:
    load_case(session, user, case_id)
    rows = session.exec(
        select(Attachment).where(Attachment.case_id == case_id).order_by(col(Attachment.id))
    ).all()
    return [attachment_public(r) for r in rows]


@router.get(
    "/{case_id}/attachments/{attachment_id}/file",
    summary="下载卷宗材料",
    response_class=FileResponse,
    responses={
        200: {
            "description": "上传的原文件（按内容判断的类型）",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("application/pdf", "image/jpeg", "image/png")
            },
        }
    },
)
def download_attachment(
    case_id: IdPath, attachment_id: IdPath, session: SessionDep, user: CurrentUser
) -> FileResponse:
    return attachment_file(session, user, case_id, attachment_id)


def attachment_file(session: Session, user: Any, case_id: int, attachment_id: int) -> FileResponse:
    """The stored file, after the access check (shared with the case page's link)."""
    refusal = attachment_refusal(session, user, case_id)
    if refusal is not None:
        raise HTTPException(refusal[0], detail=refusal[1])
    row = session.get(Attachment, attachment_id)
    if row is None or row.case_id != case_id:
        raise HTTPException(404, detail="材料不存在")
    path = get_settings().data_dir / row.path
    if not path.is_file():
        raise HTTPException(410, detail="材料归档文件缺失，请联系管理员")
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=f"{AttachmentKind(row.kind).label}-{row.id}.{row.path.rsplit('.', 1)[-1]}",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/{case_id}/dossier/checklist",
    response_model=list[ChecklistItemPublic],
    summary="卷宗材料清单（必须 / 按需，是否齐备）",
)
def dossier_checklist(case_id: IdPath, request: Request, user: CurrentUser) -> list[dict]:
    return act(
        request,
        user,
        case_id,
        dossier.case_checklist,
        render=lambda _s, _c, items: [i.public() for i in items],
    )


@router.get(
    "/{case_id}/dossier",
    summary="人民调解卷宗 PDF（立卷）",
    response_class=FileResponse,
    responses=PDF_RESPONSE,
)
def dossier_pdf(case_id: IdPath, request: Request, user: CurrentUser) -> FileResponse:
    doc: Document = act(request, user, case_id, dossier.case_dossier, render=lambda _s, _c, d: d)
    return dossier_file(doc)


def dossier_file(doc: Document) -> FileResponse:
    path = get_settings().data_dir / doc.path
    if not path.is_file():
        raise HTTPException(410, detail="卷宗归档文件缺失，请联系管理员")
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=f"人民调解卷宗-{doc.id}.pdf",
        headers={"Cache-Control": "private, no-store", "X-Dossier-Document-Id": str(doc.id)},
    )
