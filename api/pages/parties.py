"""The party edit page: a party's 法定代表人 and title, its 委托代理人 (phone, ID, 特别授权) and whom a
group member is represented by. The same action as `PATCH /cases/{id}/parties/{pid}` (flows/parties.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.actions import CaseNotFound, perform
from api.deps import IdPath
from api.errors import chinese_message
from api.html import engine_of, not_found, redirect, render
from api.pages.actions import load_visible_case
from api.pages.common import STAFF, PageRoute, form_of, require
from flows import parties as party_flow
from models.binding import basis as binding_basis
from models.case import Case
from models.enums import PartyRole, Stage
from models.lifecycle import DomainError, InvalidInput
from models.party import Party
from models.schemas import EDITABLE_PARTY_FIELDS, PartyUpdate

router = APIRouter(route_class=PageRoute)

FLAGS = ("agent_special_authority", "is_representative", "consent_electronic")


def _values_of(party: Party) -> dict[str, Any]:
    return {f: getattr(party, f) if f in FLAGS else (getattr(party, f) or "") for f in EDITABLE_PARTY_FIELDS}


def _page(
    request: Request,
    case: Case,
    party: Party,
    others: list[Party],
    values: dict,
    errors: dict,
    status: int = 200,
) -> Response:
    context = {
        "case": case,
        "party": party,
        "role_label": PartyRole(party.role).label,
        "representatives": [p.name for p in others if p.is_representative],
        "v": values,
        "errors": errors,
        "version": case.version,
        "binding_basis": binding_basis(),
    }
    return render(request, "party_edit.html", context, status=status)


def _load(session: Session, request: Request, case_id: int, pid: int) -> tuple[Case, Party, list[Party]]:
    user = require(request, *STAFF)
    case = load_visible_case(session, user, case_id)
    party = session.get(Party, pid)
    if party is None or party.case_id != case.id:
        raise not_found()
    others = list(
        session.exec(
            select(Party).where(Party.case_id == case.id, Party.id != pid).order_by(col(Party.id))
        ).all()
    )
    return case, party, others


@router.get("/cases/{case_id}/parties/{pid}/edit", include_in_schema=False)
def party_form(case_id: IdPath, pid: IdPath, request: Request) -> Response:
    with Session(engine_of(request)) as session:
        case, party, others = _load(session, request, case_id, pid)
        if case.stage == Stage.closed:
            return redirect(f"/cases/{case_id}#parties", flash="案件已结案，不能修改当事人信息", kind="error")
        return _page(request, case, party, others, _values_of(party), {})


def _changes(form: Any) -> dict[str, Any]:
    """Only the fields the form carries: an empty text clears it; a checkbox comes with a hidden "0"
    before it, so the last value is its state."""
    out: dict[str, Any] = {}
    for f in EDITABLE_PARTY_FIELDS:
        values = form.getlist(f)
        if not values:
            continue
        if f in FLAGS:
            out[f] = str(values[-1]) == "1"
        else:
            out[f] = str(values[-1]).strip() or None
    return out


@router.post("/cases/{case_id}/parties/{pid}/edit", include_in_schema=False)
async def party_submit(case_id: IdPath, pid: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    changes = _changes(form)
    raw = str(form.get("version") or "").strip()
    version = int(raw) if raw.isdigit() else None
    errors: dict[str, str] = {}
    try:
        body = PartyUpdate.model_validate({**changes, "version": version})
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            errors.setdefault(loc[0] if loc else "_form", chinese_message(error))
        body = None
    if body is not None:
        try:
            name = perform(
                request,
                user,
                case_id,
                body.about(pid),
                party_flow.update_party,
                render=lambda s, c, p: p.name,
            )
        except CaseNotFound:
            raise not_found() from None
        except InvalidInput as exc:
            errors[exc.field or "_form"] = exc.message
        except DomainError as exc:
            errors["_form"] = exc.message
        else:
            return redirect(f"/cases/{case_id}#parties", flash=f"已保存{name}的信息")
    # Re-shown with everything typed (nothing lost), each error beside its field.
    with Session(engine_of(request)) as session:
        case, party, others = _load(session, request, case_id, pid)
        values = {**_values_of(party), **{k: ("" if v is None else v) for k, v in changes.items()}}
        return _page(request, case, party, others, values, errors, status=422)
