"""送达 (CONTRACT v1.2): what reached whom, and staff recording a delivery; the rules live in
models/delivery.py, the action in flows/notices.py (the case page calls the same one)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.actions import load_case, perform
from api.deps import CurrentUser, IdPath, SessionDep, StaffUser
from api.errors import ERROR_RESPONSES
from api.idempotency import IdempotentRoute
from flows.notices import record_delivery
from models.delivery import Delivery, delivery_rows
from models.public import DeliveryPublic
from models.schemas import DeliveryRecord

router = APIRouter(
    prefix="/cases", tags=["deliveries"], responses=ERROR_RESPONSES, route_class=IdempotentRoute
)


def _public(row: dict) -> dict:
    """The contract's fields of a row (the page's extra ones left out)."""
    return {k: row[k] for k in DeliveryPublic.model_fields}


@router.get(
    "/{case_id}/deliveries", response_model=list[DeliveryPublic], summary="送达情况（每份通知×受送达人）"
)
def list_deliveries(case_id: IdPath, session: SessionDep, user: CurrentUser) -> list[dict]:
    load_case(session, user, case_id)
    return [_public(r) for r in delivery_rows(session, case_id)]


@router.post(
    "/{case_id}/deliveries/{delivery_id}", response_model=DeliveryPublic, summary="记录送达（出具送达回证）"
)
def record(
    case_id: IdPath, delivery_id: IdPath, request: Request, user: StaffUser, body: DeliveryRecord
) -> dict:
    """Delivered or refused issues the 送达回证 (民诉法 第87、89条 by analogy); SMS, e-mail or the portal
    only with the party's consent to electronic delivery (第90条 by analogy)."""

    def render(session, case, delivery: Delivery) -> dict:
        return _public(next(r for r in delivery_rows(session, case_id) if r["id"] == delivery.id))

    return perform(request, user, case_id, body.about(delivery_id), record_delivery, render=render)
