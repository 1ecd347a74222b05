"""Admin: the committee dictionary (调解组织): each committee's name, kind, the categories it takes and
its document number series. The page builds the same body as PUT /committees and calls the same action."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from api.errors import chinese_message
from api.html import engine_of, redirect, render
from api.pages.common import ADMIN, PageRoute, form_of, require
from flows.committees import replace_committees
from models.committee import CommitteesIn, committee_public, committees
from models.db import session_scope, utcnow
from models.enums import Category, CommitteeKind
from models.law import ARTICLES
from models.lifecycle import DomainError

router = APIRouter(route_class=PageRoute, prefix="/admin")
NEW_ROWS = 1


def _rows_from_form(form: FormData) -> list[dict]:
    """The rows as typed (strings), so a refused form comes back with everything in it."""
    rows = []
    count = int(str(form.get("rows") or "0")) if str(form.get("rows") or "0").isdigit() else 0
    for i in range(min(count, 101)):
        rows.append(
            {
                "id": str(form.get(f"id_{i}") or ""),
                "name": str(form.get(f"name_{i}") or ""),
                "kind": str(form.get(f"kind_{i}") or ""),
                "categories": [str(v) for v in form.getlist(f"categories_{i}")],
                "number_prefix": str(form.get(f"prefix_{i}") or ""),
                "active": form.get(f"active_{i}") is not None,
                "is_center": form.get(f"center_{i}") is not None,
            }
        )
    return rows


def _body(rows: list[dict]) -> dict:
    # A blank new row (no name, no id) is the spare line of the form, not an item.
    items = []
    for row in rows:
        if not row["id"] and not row["name"].strip():
            continue
        items.append(
            {
                "id": int(row["id"]) if row["id"].isdigit() else None,
                "name": row["name"],
                "kind": row["kind"],
                "categories": row["categories"],
                "number_prefix": row["number_prefix"] or None,
                "active": row["active"] or row["is_center"],
            }
        )
    return {"items": items}


def _blank() -> dict:
    return {
        "id": "",
        "name": "",
        "kind": CommitteeKind.medical.value,
        "categories": [],
        "number_prefix": "",
        "active": True,
        "is_center": False,
    }


def _page(
    request: Request, *, rows: list[dict] | None = None, errors: list[str] | None = None, status: int = 200
) -> Response:
    if rows is None:
        with Session(engine_of(request)) as session:
            rows = [
                {**committee_public(c), "id": str(c.id), "number_prefix": c.number_prefix or ""}
                for c in committees(session)
            ]
        rows += [_blank() for _ in range(NEW_ROWS)]
    return render(
        request,
        "admin/committees.html",
        {
            "rows": rows,
            "kinds": [(k.value, k.label) for k in CommitteeKind],
            "categories": [(c.value, c.label) for c in Category],
            "errors": errors or [],
            "basis": ARTICLES["medical_39"],
        },
        status=status,
    )


@router.get("/committees", include_in_schema=False)
def committees_page(request: Request) -> Response:
    require(request, *ADMIN)
    return _page(request)


@router.post("/committees", include_in_schema=False)
async def committees_save(request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    rows = _rows_from_form(form)
    try:
        data = CommitteesIn.model_validate(_body(rows))
    except ValidationError as exc:
        return _page(request, rows=rows, errors=[chinese_message(dict(exc.errors()[0]))], status=422)
    try:
        with session_scope(engine_of(request), write=True) as session:
            done = replace_committees(session=session, data=data, actor=admin, now=utcnow())
    except DomainError as exc:
        return _page(request, rows=rows, errors=[exc.message], status=422)
    active = sum(1 for c in done["items"] if c["active"])
    return redirect("/admin/committees", flash=f"已保存调解组织字典：在用 {active} 个")
