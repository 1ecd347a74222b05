"""The case page's 履行保障 section (issue 20): 司法确认, 支付令 and the steps taken elsewhere — the same
actions as `POST /api/v1/cases/{id}/judicial-confirmation`, `/payment-orders` and `/enforcement-steps`
(flows/enforcement.py); the page parses the form and answers with a flash message."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.actions import perform_form
from api.deps import IdPath
from api.pages.common import STAFF, PageRoute, form_of, require
from flows import enforcement
from models.schemas import EnforcementStepCreate, JudicialConfirmationCreate, PaymentOrdersCreate

router = APIRouter(route_class=PageRoute)


@router.post("/cases/{case_id}/judicial-confirmation", include_in_schema=False)
async def judicial_confirmation(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        JudicialConfirmationCreate,
        enforcement.apply_judicial_confirmation,
        done="已制作司法确认申请书和调解组织主持调解的证明",
        back=f"/cases/{case_id}#enforcement",
    )


@router.post("/cases/{case_id}/payment-orders", include_in_schema=False)
async def payment_orders(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        PaymentOrdersCreate,
        enforcement.apply_payment_orders,
        done=lambda cmd: f"已制作支付令申请书（所选{len(cmd.term_ids)}项，每名权利人一份）",
        back=f"/cases/{case_id}#enforcement",
    )


@router.post("/cases/{case_id}/enforcement-steps", include_in_schema=False)
async def enforcement_step(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        EnforcementStepCreate,
        enforcement.record_enforcement_step,
        done="履行保障步骤已登记",
        back=f"/cases/{case_id}#enforcement",
    )
