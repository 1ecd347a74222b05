"""The parties' channel (CONTRACT v1.2, 一案一码): staff get a party's code; the party logs in with it and
acts on its own case only. The rules and actions live in models/portal.py and flows/portal.py; the
party's page (api/pages/portal.py) calls the same actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from sqlmodel import Session

from api.actions import act, load_case
from api.deps import IdPath, SessionDep, StaffUser
from api.errors import ERROR_RESPONSES
from api.portal_auth import PORTAL_TTL, PortalPartyId, create_portal_token, open_portal
from api.routes.documents import pdf_file
from api.security import client_address
from flows import portal
from models.db import session_scope, utcnow
from models.lifecycle import InvalidInput
from models.party import Party
from models.party_access import page_url, party_code
from models.portal import (
    PartyAccessPublic,
    PortalConfirm,
    PortalLogin,
    PortalRatingIn,
    PortalToken,
    PortalView,
    PresidingSignatureIn,
    PresidingSignaturePublic,
    SignatureCodeSent,
    SignatureIn,
    current_agreement,
    party_document,
    party_view,
    png_from_base64,
)
from models.public import ErrorPublic
from runtime.relay import after_commit

router = APIRouter(tags=["portal"], responses=ERROR_RESPONSES)


def portal_url(code: str) -> str:
    return page_url(code)


@router.get(
    "/cases/{case_id}/parties/{party_id}/access",
    response_model=PartyAccessPublic,
    summary="当事人服务码（一案一码）",
)
def party_access(case_id: IdPath, party_id: IdPath, session: SessionDep, user: StaffUser) -> dict:
    load_case(session, user, case_id)
    party = session.get(Party, party_id)
    if party is None or party.case_id != case_id:
        raise HTTPException(status_code=404, detail="本案没有该当事人")
    code = party_code(session, party)
    return {"code": code, "url": portal_url(code)}


def portal_act(
    request: Request,
    party_id: int,
    action: Callable[..., Any],
    *,
    render: Callable[[Session, Party, Any], Any],
    **kwargs: Any,
) -> Any:
    """One action of the party = one transaction, as staff actions are (api/routes/cases.act)."""
    now = utcnow()
    with session_scope(request.app.state.engine, write=True) as session:
        party = session.get(Party, party_id)
        if party is None:
            raise HTTPException(status_code=401, detail="验证已过期，请重新输入服务码和证件号码后六位")
        result = action(session=session, party=party, now=now, **kwargs)
        session.flush()
        out = render(session, party, result)
    after_commit()
    return out


def _me(session: Session, party: Party, _result: Any = None) -> dict:
    view = party_view(session, party, utcnow())
    code = party_code(session, party)
    for doc in view["documents"]:
        doc["url"] = f"/api/v1/portal/documents/{doc['id']}/pdf"
        doc["page_url"] = doc.get("page_url") or f"/p/{code}/documents/{doc['id']}"
    return view


@router.post(
    "/portal/{code}/login",
    response_model=PortalToken,
    summary="当事人验证（服务码+证件号后六位）",
    responses={429: {"model": ErrorPublic, "description": "验证失败过多：稍后再试（见 Retry-After）"}},
)
def portal_login(code: str, body: PortalLogin, request: Request, session: SessionDep) -> dict:
    party = open_portal(session, request, code[:32], body.secret)
    return {
        "access_token": create_portal_token(party.id or 0),
        "token_type": "bearer",
        "expires_in": int(PORTAL_TTL.total_seconds()),
    }


@router.get("/portal/me", response_model=PortalView, summary="当事人本人的案件情况（他人信息已脱敏）")
def portal_me(party_id: PortalPartyId, session: SessionDep) -> dict:
    party = session.get(Party, party_id)
    if party is None:
        raise HTTPException(status_code=401, detail="验证已过期，请重新输入服务码和证件号码后六位")
    return _me(session, party)


def party_pdf(session: Session, party: Party, doc_id: int) -> FileResponse:
    """The PDF of a notice addressed to this party (models.portal.party_document), else 404."""
    doc = party_document(session, party, doc_id)
    if doc is None:
        raise HTTPException(404, detail="文书不存在")
    return pdf_file(doc, missing="文书归档文件缺失，请联系调解中心")


@router.get(
    "/portal/documents/{doc_id}/pdf",
    response_class=FileResponse,
    summary="下载送达本人的文书",
    responses={
        200: {
            "description": "送达本人的通知类文书 PDF 原件",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def portal_pdf(doc_id: IdPath, party_id: PortalPartyId, session: SessionDep) -> FileResponse:
    party = session.get(Party, party_id)
    if party is None:
        raise HTTPException(status_code=401, detail="验证已过期，请重新输入服务码和证件号码后六位")
    return party_pdf(session, party, doc_id)


@router.post(
    "/portal/deliveries/{delivery_id}/confirm", response_model=PortalView, summary="确认收到文书（电子送达）"
)
def portal_confirm(
    delivery_id: IdPath, body: PortalConfirm, request: Request, party_id: PortalPartyId
) -> dict:
    """民诉法 第90条 (by analogy): the first confirmation carries the party's consent to electronic
    delivery; the delivery is then recorded (method 当事人服务平台送达) and the 送达回证 follows."""
    return portal_act(
        request,
        party_id,
        portal.confirm_delivery,
        render=_me,
        delivery_id=delivery_id,
        consent_electronic=body.consent_electronic,
    )


@router.post("/portal/deliveries/{delivery_id}/paper", response_model=PortalView, summary="我要纸质送达")
def portal_paper(delivery_id: IdPath, request: Request, party_id: PortalPartyId) -> dict:
    return portal_act(request, party_id, portal.ask_for_paper, render=_me, delivery_id=delivery_id)


@router.post("/portal/satisfaction", response_model=PortalView, summary="评价调解工作（结案后）")
def portal_satisfaction(body: PortalRatingIn, request: Request, party_id: PortalPartyId) -> dict:
    return portal_act(
        request, party_id, portal.rate_mediation, render=_me, rating=body.rating, comment=body.comment
    )


@router.post("/portal/signatures/request", response_model=SignatureCodeSent, summary="发送签署验证码（短信）")
def portal_signature_code(request: Request, party_id: PortalPartyId) -> dict:
    def render(_session: Session, _party: Party, code: Any) -> dict:
        return {"sent": True, "expires_at": code.expires_at.isoformat(), "message_id": code.message_id}

    return portal_act(request, party_id, portal.request_signature_code, render=render)


def sign_remotely(request: Request, party_id: int, otp: str, image_base64: str) -> dict:
    """Shared by the JSON route and the page: a wrong code's try is kept, then answered 422."""
    outcome = portal_act(
        request,
        party_id,
        portal.sign_as_party,
        render=lambda s, p, o: (o, _me(s, p)),
        otp=otp,
        image_png=png_from_base64(image_base64),
        address=client_address(request),
    )
    result, view = outcome
    if result.problem:
        raise InvalidInput(result.problem, field="otp")
    return view


@router.post("/portal/signatures", response_model=PortalView, summary="在线签署调解协议书")
def portal_sign(body: SignatureIn, request: Request, party_id: PortalPartyId) -> dict:
    return sign_remotely(request, party_id, body.otp, body.image_png_base64)


@router.post(
    "/cases/{case_id}/agreement/presiding-signature",
    response_model=PresidingSignaturePublic,
    summary="主持人签名（在线签署）",
)
def presiding_signature(
    case_id: IdPath, body: PresidingSignatureIn, request: Request, user: StaffUser
) -> dict:
    def render(session: Session, case: Any, _signature: Any) -> dict:
        found = current_agreement(session, case.id)
        missing = portal.missing_signers(session, case, *found) if found and case.stage == "agreed" else []
        return {"signed": not missing, "missing": missing, "stage": case.stage}

    return act(
        request,
        user,
        case_id,
        portal.sign_as_mediator,
        render=render,
        image_png=png_from_base64(body.image_png_base64),
        address=client_address(request),
    )
