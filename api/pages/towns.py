"""Admin: the town dictionary (镇街/村社字典), pasted or imported from a spreadsheet."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.html import engine_of, redirect, render
from api.pages.common import ADMIN, PageRoute, form_of, require
from flows.towns import TownsReplaced, parse_towns_text, read_towns_file, replace_towns
from models.db import session_scope, utcnow
from models.lifecycle import DomainError
from models.settings import get_settings
from models.town import TownsIn, town_dictionary
from models.user import User

router = APIRouter(route_class=PageRoute, prefix="/admin")
MAX_UPLOAD = 5 * 1024 * 1024


def dictionary_text(towns: list[dict]) -> str:
    """The dictionary as the text box shows it: one town per line, its villages after “：”."""
    return "\n".join(t["name"] + ("：" + "、".join(t["villages"]) if t["villages"] else "") for t in towns)


def _page(
    request: Request, *, errors: list[str] | None = None, text: str | None = None, status: int = 200
) -> Response:
    with Session(engine_of(request)) as session:
        towns = [{"name": t.name, "villages": list(t.villages or [])} for t in town_dictionary(session)]
    return render(
        request,
        "admin/towns.html",
        {
            "towns": towns,
            "villages": sum(len(t["villages"]) for t in towns),
            "text": dictionary_text(towns) if text is None else text,
            "errors": errors or [],
        },
        status=status,
    )


@router.get("/towns", include_in_schema=False)
def towns_page(request: Request) -> Response:
    require(request, *ADMIN)
    return _page(request)


async def _read_upload(upload: UploadFile) -> TownsIn:
    filename = upload.filename or ""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in ("csv", "xlsx"):
        raise DomainError("请上传 CSV（UTF-8 或 GBK）或 XLSX 文件")
    raw = await upload.read()
    if len(raw) > MAX_UPLOAD:
        raise DomainError("文件过大（不超过 5 MB）")
    # Parsing is CPU-bound for up to PARSE_BUDGET_SECONDS: off the event loop, which keeps serving.
    return await run_in_threadpool(_parse_upload, raw, suffix)


def _parse_upload(raw: bytes, suffix: str) -> TownsIn:
    folder = get_settings().ensure_data_dir() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(folder / f"towns-{uuid.uuid4().hex}.{suffix}")
    path.write_bytes(raw)
    try:
        return read_towns_file(path)
    finally:
        path.unlink(missing_ok=True)


def _replace(engine: Engine, data: TownsIn, admin: User) -> TownsReplaced:
    # Maps the towns stored on every case, expert and user: database work kept off the event loop.
    with session_scope(engine, write=True) as session:
        return replace_towns(session=session, data=data, actor=admin, now=utcnow())


@router.post("/towns", include_in_schema=False)
async def towns_replace(request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    text = str(form.get("text") or "")
    upload = form.get("file")
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            data = await _read_upload(upload)
        else:
            data = parse_towns_text(text)
        done = await run_in_threadpool(_replace, engine_of(request), data, admin)
    except DomainError as exc:
        return _page(request, errors=[exc.message], text=text, status=422)
    total = done.dictionary["total"]
    if not total:
        return redirect("/admin/towns", flash="镇街字典已清空：登记时接受任何镇街名称", kind="info")
    return redirect("/admin/towns", flash=f"已载入镇街字典：{total} 个镇街。{done.mapping.summary()}")
