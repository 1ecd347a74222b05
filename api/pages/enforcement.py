"""The case page's 履行保障 section (issue 20): 司法确认, 支付令 and the steps taken elsewhere — the same
actions as `POST /api/v1/cases/{id}/judicial-confirmation`, `/payment-orders` and `/enforcement-steps`
(flows/enforcement.py); the page parses the form and answers with a flash message."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import IdPath
from api.pages.actions import describe_validation, run_action
from api.pages.common import STAFF, PageRoute, form_of, redirect, require
from flows import enforcement
from models.schemas import EnforcementStepCreate, JudicialConfirmationCreate, PaymentOrdersCreate

router = APIRouter(route_class=PageRoute)


def _field(form: Any, name: str) -> str | None:
    value = str(form.get(name) or "").strip()
    return value or None


@router.post("/cases/{case_id}/judicial-confirmation", include_in_schema=False)
async def judicial_confirmation(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    back = f"/cases/{case_id}#enforcement"
    try:
        body = JudicialConfirmationCreate(court=_field(form, "court"))
    except ValidationError as exc:
        return redirect(back, flash=describe_validation(exc), kind="error")
    return run_action(
        request,
        user,
        case_id,
        enforcement.apply_judicial_confirmation,
        done="已制作司法确认申请书和调解组织主持调解的证明",
        back=back,
        court=body.court,
    )


@router.post("/cases/{case_id}/payment-orders", include_in_schema=False)
async def payment_orders(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    back = f"/cases/{case_id}#enforcement"
    try:
        body = PaymentOrdersCreate.model_validate(
            {"term_ids": form.getlist("term_ids"), "court": _field(form, "court")}
        )
    except ValidationError as exc:
        return redirect(back, flash=describe_validation(exc), kind="error")
    return run_action(
        request,
        user,
        case_id,
        enforcement.apply_payment_orders,
        done=f"已制作支付令申请书（所选{len(body.term_ids)}项，每名权利人一份）",
        back=back,
        term_ids=body.term_ids,
        court=body.court,
    )


@router.post("/cases/{case_id}/enforcement-steps", include_in_schema=False)
async def enforcement_step(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    back = f"/cases/{case_id}#enforcement"
    try:
        body = EnforcementStepCreate.model_validate(
            {
                "step": _field(form, "step") or "",
                "on": _field(form, "on"),
                "obligee_party_id": _field(form, "obligee_party_id"),
                "court": _field(form, "court"),
                "note": _field(form, "note"),
            }
        )
    except ValidationError as exc:
        return redirect(back, flash=describe_validation(exc), kind="error")
    return run_action(
        request,
        user,
        case_id,
        enforcement.record_enforcement_step,
        done="履行保障步骤已登记",
        back=back,
        step=body.step,
        on=body.on,
        obligee_party_id=body.obligee_party_id,
        court=body.court,
        note=body.note,
    )
