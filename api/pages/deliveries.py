"""The case page's 送达 section: staff record a delivery in one click per party (the same action as
`POST /api/v1/cases/{id}/deliveries/{did}`: flows.notices.record_delivery)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import IdPath
from api.errors import describe_validation
from api.pages.actions import run_action
from api.pages.common import STAFF, PageRoute, form_of, redirect, require
from flows.notices import record_delivery
from models.enums import DeliveryStatus
from models.schemas import DeliveryRecord

router = APIRouter(route_class=PageRoute)


def _field(form: Any, name: str) -> str | None:
    value = str(form.get(name) or "").strip()
    return value or None


@router.post("/cases/{case_id}/deliveries/{delivery_id}", include_in_schema=False)
async def record(case_id: IdPath, delivery_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    back = f"/cases/{case_id}#deliveries"
    try:
        body = DeliveryRecord(
            status=_field(form, "status") or "",
            method=_field(form, "method"),
            delivered_at=_field(form, "delivered_at"),  # type: ignore[arg-type]
            signed_by=_field(form, "signed_by"),
            signer_name=_field(form, "signer_name"),
            note=_field(form, "note"),
            consent_electronic=bool(form.get("consent_electronic")),
        )
    except ValidationError as exc:
        return redirect(back, flash=describe_validation(exc, DeliveryRecord), kind="error")
    done = {
        DeliveryStatus.delivered: "已记录送达，送达回证已出具",
        DeliveryStatus.refused: "已记录拒收（留置送达），送达回证已出具",
    }.get(body.status, "已记录送达情况")  # type: ignore[call-overload]
    return run_action(
        request,
        user,
        case_id,
        record_delivery,
        done=done,
        back=back,
        delivery_id=delivery_id,
        status=body.status,
        method=body.method,
        delivered_at=body.delivered_at,
        signed_by=body.signed_by,
        signer_name=body.signer_name,
        note=body.note,
        consent_electronic=body.consent_electronic,
    )
