"""The party's own page `/p/{code}` (一案一码): no account; the code on its notices and the last 6
characters of its ID number (or credit code) open it for 30 minutes. Every action calls the same
function as the JSON route (api/routes/portal.py → flows/portal.py)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import IdPath
from api.html import PageError, engine_of, redirect, render
from api.pages.actions import run_action
from api.pages.common import STAFF, PageRoute, form_of, require
from api.portal_auth import PORTAL_TTL, create_portal_token, open_portal, read_portal_token
from api.routes.portal import party_pdf, portal_act, sign_remotely
from api.security import client_address, cookie_secure, csrf_token_for, csrf_valid
from flows import portal
from models.db import utcnow
from models.enums import Satisfaction
from models.law import ARTICLES
from models.lifecycle import DomainError
from models.party import Party
from models.party_access import normalize_code, party_code
from models.portal import party_view, png_from_base64

router = APIRouter(route_class=PageRoute)
PORTAL_COOKIE = "tiaojie_portal"
NONCE_COOKIE = "tiaojie_portal_nonce"  # what the secret form's CSRF token is bound to before login


def _code(code: str) -> str:
    clean = normalize_code(code[:32])
    if clean is None:
        raise PageError(404, "服务码不正确，请核对通知书上的服务码")
    return clean


def _party_of(request: Request, code: str) -> Party | None:
    """The party this browser opened the page as, if its token is live and names this code's party."""
    token = request.cookies.get(PORTAL_COOKIE)
    party_id = read_portal_token(token) if token else None
    if party_id is None:
        return None
    with Session(engine_of(request), expire_on_commit=False) as session:
        party = session.get(Party, party_id)
        return party if party is not None and party_code(session, party) == code else None


def _ask(request: Request, code: str, *, error: str | None = None, status: int = 200) -> Response:
    nonce = request.cookies.get(NONCE_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "portal_login.html",
        {"title": "当事人服务", "code": code, "error": error, "form_csrf": csrf_token_for(nonce)},
        status=status,
        user=None,
    )
    response.set_cookie(
        NONCE_COOKIE, nonce, httponly=True, samesite="lax", secure=cookie_secure(request), path=f"/p/{code}"
    )
    return response


@router.get("/p/{code}")
def page(code: str, request: Request) -> Response:
    code = _code(code)
    party = _party_of(request, code)
    if party is None:
        return _ask(request, code)
    with Session(engine_of(request), expire_on_commit=False) as session:
        view = party_view(session, party, utcnow())
    return render(
        request,
        "portal.html",
        {
            "title": "我的调解案件",
            "code": code,
            "v": view,
            "form_csrf": csrf_token_for(request.cookies.get(PORTAL_COOKIE) or ""),
            "ratings": list(Satisfaction),
            "consent_cite": ARTICLES["cpl_90"].cite_short,
        },
        user=None,
    )


@router.post("/p/{code}")
async def open_page(code: str, request: Request) -> Response:
    code = _code(code)
    form = await request.form()
    nonce = request.cookies.get(NONCE_COOKIE) or ""
    if not nonce or not csrf_valid(nonce, form.get("csrf_token")):
        return _ask(request, code, error="页面已过期，请重新输入", status=403)
    try:
        with Session(engine_of(request), expire_on_commit=False) as session:
            party = open_portal(session, request, code, str(form.get("secret") or "")[:32])
    except HTTPException as exc:
        return _ask(request, code, error=str(exc.detail), status=exc.status_code)
    response = redirect(f"/p/{code}")
    response.set_cookie(
        PORTAL_COOKIE,
        create_portal_token(party.id or 0),
        max_age=int(PORTAL_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        path=f"/p/{code}",
    )
    return response


EXPIRED = "验证已过期，请重新输入证件号码后六位"


async def _checked(request: Request, code: str) -> tuple[str, Party, Any] | Response:
    """The party of a posted form, after its CSRF check; back to the secret form when expired."""
    code = _code(code)
    party = _party_of(request, code)
    if party is None:
        return redirect(f"/p/{code}", flash=EXPIRED, kind="error")
    form = await request.form()
    if not csrf_valid(request.cookies.get(PORTAL_COOKIE) or "", form.get("csrf_token")):
        raise PageError(403, "表单校验失败：页面可能已过期，请刷新页面后重新提交")
    return code, party, form


def _do(request: Request, code: str, party: Party, action: Any, done: str, **kwargs: Any) -> Response:
    try:
        portal_act(request, id_of_party(party), action, render=lambda *_: None, **kwargs)
    except DomainError as exc:
        return redirect(f"/p/{code}", flash=exc.message, kind="error")
    return redirect(f"/p/{code}", flash=done)


def id_of_party(party: Party) -> int:
    assert party.id is not None
    return party.id


@router.post("/p/{code}/deliveries/{delivery_id}/confirm")
async def confirm(code: str, delivery_id: int, request: Request) -> Response:
    if isinstance(got := await _checked(request, code), Response):
        return got
    code, party, form = got
    return _do(
        request,
        code,
        party,
        portal.confirm_delivery,
        "已确认收到，送达回证已出具",
        delivery_id=delivery_id,
        consent_electronic=bool(form.get("consent_electronic")),
    )


@router.post("/p/{code}/deliveries/{delivery_id}/paper")
async def paper(code: str, delivery_id: int, request: Request) -> Response:
    if isinstance(got := await _checked(request, code), Response):
        return got
    code, party, _form = got
    return _do(
        request,
        code,
        party,
        portal.ask_for_paper,
        "已登记：工作人员将为您送达纸质文书",
        delivery_id=delivery_id,
    )


@router.post("/p/{code}/satisfaction")
async def rate(code: str, request: Request) -> Response:
    if isinstance(got := await _checked(request, code), Response):
        return got
    code, party, form = got
    return _do(
        request,
        code,
        party,
        portal.rate_mediation,
        "感谢您的评价",
        rating=str(form.get("rating") or ""),
        comment=str(form.get("comment") or "")[:600],
    )


@router.post("/p/{code}/signatures/request")
async def signature_code(code: str, request: Request) -> Response:
    if isinstance(got := await _checked(request, code), Response):
        return got
    code, party, _form = got
    return _do(
        request, code, party, portal.request_signature_code, "验证码已发送到您登记的手机，10分钟内有效"
    )


@router.post("/p/{code}/signatures")
async def sign(code: str, request: Request) -> Response:
    if isinstance(got := await _checked(request, code), Response):
        return got
    code, party, form = got
    otp = str(form.get("otp") or "").strip()
    if len(otp) != 6 or not otp.isdigit():
        return redirect(f"/p/{code}#sign", flash="请输入短信中的6位验证码", kind="error")
    try:
        sign_remotely(request, id_of_party(party), otp, str(form.get("image_png_base64") or "")[:400_000])
    except DomainError as exc:
        return redirect(f"/p/{code}#sign", flash=exc.message, kind="error")
    return redirect(f"/p/{code}", flash="签名已提交")


@router.get("/p/{code}/documents/{doc_id}")
def document(code: str, doc_id: int, request: Request) -> Response:
    code = _code(code)
    party = _party_of(request, code)
    if party is None:
        return redirect(f"/p/{code}", flash=EXPIRED, kind="error")
    with Session(engine_of(request), expire_on_commit=False) as session:
        try:
            return party_pdf(session, party, doc_id)
        except HTTPException as exc:
            raise PageError(exc.status_code, str(exc.detail)) from None


@router.post("/p/{code}/logout")
async def leave(code: str, request: Request) -> Response:
    if isinstance(got := await _checked(request, code), Response):
        return got
    code = got[0]
    response = redirect(f"/p/{code}", flash="已退出")
    response.delete_cookie(PORTAL_COOKIE, path=f"/p/{code}")
    return response


@router.post("/cases/{case_id}/agreement/presiding-signature")
async def presiding_signature(case_id: IdPath, request: Request) -> Response:
    """主持人签名 on the case page: the same action as the JSON route (flows.portal.sign_as_mediator)."""
    user = require(request, *STAFF)
    form = await form_of(request)
    return run_action(
        request,
        user,
        case_id,
        portal.sign_as_mediator,
        done="主持人签名已记录",
        back=f"/cases/{case_id}#agreement",
        image_png=png_from_base64(str(form.get("image_png_base64") or "")[:400_000]),
        address=client_address(request),
    )
