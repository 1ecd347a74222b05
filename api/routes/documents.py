"""Issued documents as PDF."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from api.deps import CurrentUser, IdPath, SessionDep
from api.errors import ERROR_RESPONSES
from models.access import document_refusal
from models.document import Document
from models.enums import DocumentKind
from models.public import ErrorPublic
from models.settings import get_settings

router = APIRouter(prefix="/documents", tags=["documents"], responses=ERROR_RESPONSES)


@router.get(
    "/{doc_id}/pdf",
    summary="下载文书 PDF",
    response_class=FileResponse,
    responses={
        200: {
            "description": "归档的 PDF 原件（其 SHA-256 即核验指纹）",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        410: {"model": ErrorPublic, "description": "文书归档文件缺失"},
    },
)
def document_pdf(doc_id: IdPath, session: SessionDep, user: CurrentUser) -> FileResponse:
    doc = session.get(Document, doc_id)
    if doc is None:
        raise HTTPException(404, detail="文书不存在")
    refusal = document_refusal(session, user, doc)
    if refusal is not None:
        raise HTTPException(refusal[0], detail=refusal[1])
    return pdf_file(doc, missing="文书归档文件缺失，请联系管理员")


def pdf_file(doc: Document, *, missing: str) -> FileResponse:
    """The archived PDF of a document the caller may read (checked before), or 410 when it is gone."""
    path = get_settings().data_dir / doc.path
    if not path.is_file():
        raise HTTPException(410, detail=missing)
    filename = f"{DocumentKind(doc.kind).label.replace('/', '-')}-{doc.id}.pdf"
    return FileResponse(
        path, media_type="application/pdf", filename=filename, headers={"Cache-Control": "private, no-store"}
    )
