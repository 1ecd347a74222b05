"""The public online application page (/apply): no account, on a phone. The same action as
`POST /api/v1/public/applications` (flows/applications.py), with the same size and rate limits.
No CSRF token: there is no session to ride on, and what a forged post could do (file an application in
someone's name) needs that person's own ID number and is rate-limited like any other post."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.html import engine_of, render
from api.pages.cases import intake_body, intake_errors
from api.pages.common import PageRoute
from api.security import TooManyRequests, application_allowance, client_address
from flows.applications import apply_online
from models.db import session_scope, utcnow
from models.enums import Category, PartyKind
from models.lifecycle import DomainError, InvalidInput
from models.party_access import format_code
from models.schemas import CaseCreate
from models.town import town_dictionary
from runtime.relay import after_commit

router = APIRouter(route_class=PageRoute)

CASE_FIELDS = ("category", "town", "village", "summary", "claims")
APPLICANT_FIELDS = ("name", "id_number", "phone", "email", "address")
RESPONDENT_FIELDS = ("kind", "name", "phone", "org_code", "address")


def _page(request: Request, values: dict, errors: dict[str, str], *, status: int = 200) -> Response:
    with Session(engine_of(request)) as session:
        towns = town_dictionary(session)
    context = {
        "title": "网上申请调解",
        "v": values,
        "errors": errors,
        "towns": towns,
        "categories": list(Category),
        "party_kinds": list(PartyKind),
    }
    return render(request, "apply.html", context, status=status)


@router.get("/apply", include_in_schema=False)
def apply_form(request: Request) -> Response:
    return _page(request, {"respondent_kind": "person"}, {})


def _form_values(form: Any) -> dict[str, str]:
    names = [
        *CASE_FIELDS,
        *(f"applicant_{f}" for f in APPLICANT_FIELDS),
        *(f"respondent_{f}" for f in RESPONDENT_FIELDS),
    ]
    return {name: str(form.get(name) or "").strip() for name in names}


def _rows(values: dict[str, str]) -> list[tuple[int, dict[str, str]]]:
    applicant = {f: values[f"applicant_{f}"] for f in APPLICANT_FIELDS}
    respondent = {f: values[f"respondent_{f}"] for f in RESPONDENT_FIELDS}
    return [
        (0, {**applicant, "role": "applicant", "kind": "person"}),
        (1, {**respondent, "role": "respondent", "kind": respondent["kind"] or "person"}),
    ]


def _field_of(key: str) -> str:
    """An error's place in the intake schema (parties-0-phone, parties.1.name) as this form's field."""
    bits = key.replace(".", "-").split("-")
    if bits[0] == "parties" and len(bits) >= 2 and bits[1].isdigit():
        side = "applicant" if bits[1] == "0" else "respondent"
        return f"{side}_{bits[2]}" if len(bits) > 2 else f"{side}_name"
    return key


@router.post("/apply", include_in_schema=False)
async def apply_submit(request: Request) -> Response:
    form = await request.form()
    values = _form_values(form)
    body, kept = intake_body({**values, "channel": "online"}, _rows(values))
    try:
        data = CaseCreate.model_validate(body)
    except ValidationError as exc:
        errors = {_field_of(k): v for k, v in intake_errors(exc, kept).items()}
        return _page(request, values, errors, status=422)
    try:
        application_allowance(request.app).take(client_address(request))
    except TooManyRequests as exc:
        response = _page(request, values, {"_form": exc.message}, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    try:
        with session_scope(engine_of(request), write=True) as session:
            case, code = apply_online(session=session, data=data, now=utcnow())
            case_no = case.case_no
    except InvalidInput as exc:
        return _page(request, values, {_field_of(exc.field or "_form"): exc.message}, status=422)
    except DomainError as exc:
        return _page(request, values, {"_form": exc.message}, status=422)
    after_commit()
    context = {"title": "申请已提交", "case_no": case_no, "code": format_code(code), "raw_code": code}
    return render(request, "apply_done.html", context, status=201)
