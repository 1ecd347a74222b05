"""Routes outside /api/v1 that need no login: health and document verification."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.errors import ERROR_RESPONSES
from api.html import render, wants_html
from models.db import ping
from models.public import (
    HealthPublic,
    UploadVerificationPublic,
    VerificationMissPublic,
    VerificationPublic,
)

router = APIRouter(tags=["public"])


@router.get(
    "/healthz",
    response_model=HealthPublic,
    summary="健康检查",
    responses={503: {"model": HealthPublic, "description": "数据库不可达"}},
)
def healthz(request: Request) -> dict | JSONResponse:
    try:
        ping(request.app.state.engine)
    except Exception:
        return JSONResponse(status_code=503, content={"status": "error", "database": "unreachable"})
    return {"status": "ok", "database": "ok"}


@router.get("/verify", include_in_schema=False)
def verify_form(request: Request, code: str = "") -> Response:
    """The 核验页面 every PDF names: a field for the code printed on the document; its answer is
    /verify/{code}, the page the QR code opens."""
    code = code.strip()[:80]
    if code:
        return RedirectResponse(f"/verify/{quote(code, safe='')}", status_code=303)
    return render(request, "verify.html", {"title": "文书核验", "ask": True, "v": None})


@router.get(
    "/verify/{value}",
    response_model=VerificationPublic,
    summary="文书真伪核验（无需登录，不含个人信息）",
    description="浏览器（Accept 优先 text/html，如扫描文书二维码）得到中文核验页面；其他客户端得到 JSON。",
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        404: {"model": VerificationMissPublic, "description": "未查到该文书"},
    },
)
def verify(value: str, request: Request) -> dict | Response:
    found = _verification(request, value)
    if wants_html(request):
        if found is None:
            context = {"title": "未找到该文书", "v": None, "code": value[:80]}
            return render(request, "verify.html", context, status=404)
        title = "未签署打印稿" if found["draft"] else "文书真实有效"
        return render(request, "verify.html", {"title": title, "v": found})
    if found is None:
        return JSONResponse(status_code=404, content={"valid": False, "detail": "未查到该文书，请核实"})
    return found


def _verification(request: Request, value: str) -> dict | None:
    """What anyone may learn about the document with this fingerprint or verify code; None if none."""
    from sqlmodel import Session, select

    from documents.verification import is_sha256, normalize_verify_code
    from models.agreement import Agreement, is_unsigned_print
    from models.case import Case
    from models.document import Document
    from models.enums import DocumentKind
    from models.tz import CHINA

    with Session(request.app.state.engine) as session:
        if is_sha256(value):
            doc = session.exec(select(Document).where(Document.sha256 == value.lower())).first()
        else:
            code = normalize_verify_code(value)
            doc = session.exec(select(Document).where(Document.verify_code == code)).first() if code else None
        if doc is None:
            return None
        case = session.get(Case, doc.case_id) if doc.case_id else None
        superseded = (
            session.exec(select(Document.id).where(Document.supersedes_id == doc.id)).first() is not None
        )
        agreement = (
            session.exec(select(Agreement).where(Agreement.case_id == doc.case_id)).first()
            if doc.kind == DocumentKind.agreement
            else None
        )
        return {
            "valid": True,
            "kind": doc.kind,
            "kind_label": DocumentKind(doc.kind).label,
            "case_no": case.case_no if case else None,
            "issued_on": doc.created_at.astimezone(CHINA).date().isoformat(),
            "sha256": doc.sha256,
            "version_no": doc.version_no,
            "superseded": superseded,
            "draft": is_unsigned_print(doc.kind, agreement),
        }


def _upload_verification(request: Request, pdf: bytes) -> dict:
    """An uploaded file against the archive (byte for byte, by SHA-256) and its PDF signature checked
    with pyHanko against the center's certificate: the answer a reader gets without trusting the file."""
    from documents.signing import check_signature
    from documents.storage import fingerprint

    sha256 = fingerprint(pdf)
    found = _verification(request, sha256)
    check = check_signature(pdf)
    if found is not None and check.intact and check.ours:
        verdict = "该文件就是本中心出具的文书原件，数字签名完好，出具后未被改动。"
    elif found is not None:
        verdict = "该文件与本中心存档的文书逐字节一致（该文书出具时尚未加数字签名）。"
    elif check.signed and not check.intact:
        verdict = "该文件不是本中心出具的原件：数字签名后内容已被改动。"
    elif check.intact and check.ours:
        verdict = "该文件带有本中心完好的数字签名，但存档中未查到该文件，请向本中心咨询。"
    else:
        verdict = "本中心存档中没有该文件，文件也没有本中心完好的数字签名：不是本中心出具的文书原件。"
    return {
        "match": found is not None,
        "sha256": sha256,
        "document": found,
        "signature": {
            "signed": check.signed,
            "intact": check.intact,
            "ours": check.ours,
            "signer": check.signer_name,
            "signed_at": check.signed_at.isoformat() if check.signed_at else None,
        },
        "verdict": verdict,
    }


@router.post(
    "/api/v1/verify",
    response_model=UploadVerificationPublic,
    summary="上传 PDF 文件核验（无需登录）：是否本中心出具的原件、数字签名是否完好",
    responses=ERROR_RESPONSES,
)
async def verify_upload(
    request: Request, file: Annotated[UploadFile, File(description="要核验的 PDF 文件")]
) -> dict:
    return _upload_verification(request, await file.read())


@router.post("/verify", include_in_schema=False)
async def verify_upload_page(request: Request, file: Annotated[UploadFile, File()]) -> Response:
    """The 核验页面's upload form: nothing changes, so no login and no CSRF token."""
    result = _upload_verification(request, await file.read())
    title = "文书原件核验通过" if result["match"] and result["signature"]["intact"] else "文书原件核验未通过"
    return render(request, "verify.html", {"title": title, "v": None, "upload": result})
