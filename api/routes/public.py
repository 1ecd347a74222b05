"""Routes outside /api/v1 that need no login: health and document verification."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.pages.common import render, wants_html
from models.db import ping
from models.public import HealthPublic, VerificationMissPublic, VerificationPublic

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
    from models.deadlines import CHINA
    from models.document import Document
    from models.enums import DocumentKind

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
