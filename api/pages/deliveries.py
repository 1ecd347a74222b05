"""The case page's 送达 section: staff record a delivery in one click per party (the same action as
`POST /api/v1/cases/{id}/deliveries/{did}`: flows.notices.record_delivery)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.actions import perform_form
from api.deps import IdPath
from api.pages.common import STAFF, PageRoute, form_of, require
from flows.notices import record_delivery
from models.enums import DeliveryStatus
from models.schemas import DeliveryRecord

router = APIRouter(route_class=PageRoute)


@router.post("/cases/{case_id}/deliveries/{delivery_id}", include_in_schema=False)
async def record(case_id: IdPath, delivery_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)

    def done(cmd: DeliveryRecord) -> str:
        return {
            DeliveryStatus.delivered: "已记录送达，送达回证已出具",
            DeliveryStatus.refused: "已记录拒收（留置送达），送达回证已出具",
        }.get(cmd.status, "已记录送达情况")  # type: ignore[call-overload]

    return perform_form(
        request,
        user,
        case_id,
        form,
        DeliveryRecord,
        record_delivery,
        done=done,
        back=f"/cases/{case_id}#deliveries",
        address=lambda cmd: cmd.about(delivery_id),
    )
