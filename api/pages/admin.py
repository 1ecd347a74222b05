"""Admin: users and roles, the expert bank (with import), clock limits and the holiday schedule."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import ColumnElement, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import IdPath, forget_user
from api.errors import chinese_message
from api.html import engine_of, not_found, redirect, render
from api.pages.common import ADMIN, PageRoute, form_of, require
from documents.spreadsheets import ImportReport, import_experts
from flows import experts
from flows import users as user_actions
from flows.process import ScheduleLoaded, load_holiday_schedule
from models.case_queries import active_case_counts
from models.center_settings import TUNABLES, current_values, set_value
from models.clocks import CLOCK_RULES, COUNTING_BASIS_ZH, ScheduleParseError
from models.db import id_of, session_scope, utcnow
from models.deadlines import STAGE_LIMITS
from models.enums import Category, ExpertKind, Role, Stage
from models.expert import Expert
from models.lifecycle import DomainError, InvalidInput, NotFound, StaleVersion, TransitionNotAllowed
from models.process_run import HolidaySchedule
from models.public import ExpertPublic, TunablePublic
from models.schemas import ExpertCreate
from models.settings import get_settings
from models.town import town_dictionary
from models.user import User
from models.users import UserUpdate, create_user
from models.validation import MAX_QUERY_TEXT

router = APIRouter(route_class=PageRoute, prefix="/admin")
UserId = Annotated[int, Path(ge=1, le=2_147_483_647)]  # beyond: the "not found" page, not a database error
EXPERT_FIELDS = (
    "name",
    "kind",
    "organization",
    "towns",
    "village",
    "max_active_cases",
    "id_number",
    "phone",
    "room",
)


# --- Users ---------------------------------------------------------------------------------------


def _users_page(
    request: Request,
    values: dict,
    errors: dict,
    status: int = 200,
    *,
    temporary: dict | None = None,
    row_errors: dict | None = None,
) -> Response:
    with Session(engine_of(request)) as session:
        users = session.exec(select(User).order_by(col(User.id))).all()
        lawyers = session.exec(
            select(Expert).where(col(Expert.kind) == ExpertKind.lawyer).order_by(col(Expert.id))
        ).all()
        linked = session.exec(select(Expert).where(col(Expert.id).in_([u.expert_id for u in users]))).all()
        experts = {e.id: e.name for e in [*lawyers, *linked]}
        towns = [t.name for t in town_dictionary(session)]
    return render(
        request,
        "admin/users.html",
        {
            "users": users,
            "town_choices": towns,
            "lawyers": lawyers,
            "experts": experts,
            "roles": list(Role),
            "v": values,
            "errors": errors,
            # Shown once, on this answer only (never put in a redirect, a cookie or the log).
            "temporary": temporary,
            "row_errors": row_errors or {},
        },
        status=status,
    )


def _user_values(user: User) -> dict[str, str]:
    return {
        "display_name": user.display_name,
        "role": user.role,
        "level": str(user.level or ""),
        "town": user.town or "",
        "expert_id": str(user.expert_id or ""),
        "active": "1" if user.active else "",
    }


def _user_form(request: Request, user: User, values: dict, errors: dict, status: int = 200) -> Response:
    with Session(engine_of(request)) as session:
        experts = session.exec(select(Expert).order_by(col(Expert.kind), col(Expert.id))).all()
        towns = [t.name for t in town_dictionary(session)]
    return render(
        request,
        "admin/user_form.html",
        {
            "u": user,
            "v": values,
            "errors": errors,
            "roles": list(Role),
            "experts": [(e.id, e.name, ExpertKind(e.kind).label) for e in experts],
            "town_choices": towns,
        },
        status=status,
    )


def _load_user(request: Request, user_id: int) -> User:
    with Session(engine_of(request)) as session:
        user = session.get(User, user_id)
    if user is None:
        raise not_found("用户不存在")
    return user


@router.get("/users/{user_id}", include_in_schema=False)
def user_edit(user_id: UserId, request: Request) -> Response:
    require(request, *ADMIN)
    user = _load_user(request, user_id)
    return _user_form(request, user, _user_values(user), {})


@router.post("/users/{user_id}", include_in_schema=False)
async def user_update(user_id: UserId, request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    user = _load_user(request, user_id)
    values = {
        k: str(form.get(k) or "").strip() for k in ("display_name", "role", "level", "town", "expert_id")
    }
    values["active"] = "1" if form.get("active") else ""
    body = {
        "display_name": values["display_name"],
        "role": values["role"],
        "level": values["level"] or None,
        "town": values["town"] or None,
        "expert_id": values["expert_id"] or None,
        "active": bool(values["active"]),
    }
    try:
        changes = UserUpdate.model_validate(body)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            errors.setdefault(loc[0] if loc else "_form", chinese_message(error))
        return _user_form(request, user, values, errors, status=422)
    try:
        with session_scope(engine_of(request), write=True) as session:
            saved = user_actions.edit_user(
                session=session, user_id=user_id, changes=changes, actor=admin, now=utcnow()
            )
            name = saved.display_name
    except NotFound as exc:
        raise not_found(exc.message) from exc
    except DomainError as exc:
        status = 409 if isinstance(exc, TransitionNotAllowed) else 422
        return _user_form(request, user, values, {exc.field or "_form": exc.message}, status=status)
    forget_user(user_id)
    return redirect("/admin/users", flash=f"已保存用户：{name}")


def _confirm(
    request: Request, user_id: int, *, action: str, question: str, fields: dict[str, str]
) -> Response:
    """The step that asks before 停用 or 重置密码 (with JavaScript, app.js asks in a dialog instead and
    sends `confirmed`): the same form again, confirmed, or back to the list."""
    with Session(engine_of(request)) as session:
        target = session.get(User, user_id)
        if target is None:
            raise not_found("用户不存在")
        name = target.display_name or target.username
    context = {"action": action, "question": question.format(name=name), "fields": fields}
    return render(request, "admin/confirm.html", context)


def _confirmed(form: Any) -> bool:
    return str(form.get("confirmed") or "") == "1"


@router.post("/users/{user_id}/active", include_in_schema=False)
async def user_active(user_id: UserId, request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    active = str(form.get("active") or "") == "1"
    if not active and not _confirmed(form):
        return _confirm(
            request,
            user_id,
            action=f"/admin/users/{user_id}/active",
            question="确定停用用户“{name}”？停用后其所有登录会话立即失效，不能再登录。",
            fields={"active": "0"},
        )
    try:
        with session_scope(engine_of(request), write=True) as session:
            saved = user_actions.set_active(
                session=session, user_id=user_id, active=active, actor=admin, now=utcnow()
            )
            name = saved.display_name
    except NotFound as exc:
        raise not_found(exc.message) from exc
    except DomainError as exc:
        status = 409 if isinstance(exc, TransitionNotAllowed) else 422
        return _users_page(request, {"role": "staff"}, {}, status=status, row_errors={user_id: exc.message})
    forget_user(user_id)
    return redirect("/admin/users", flash=f"已{'启用' if active else '停用'}用户：{name}")


@router.post("/users/{user_id}/password-reset", include_in_schema=False)
async def user_password_reset(user_id: UserId, request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    if not _confirmed(form):
        return _confirm(
            request,
            user_id,
            action=f"/admin/users/{user_id}/password-reset",
            question="确定重置用户“{name}”的密码？其原密码和所有登录会话立即失效，须凭临时密码重新登录。",
            fields={},
        )
    try:
        with session_scope(engine_of(request), write=True) as session:
            user, password = user_actions.reset_password(
                session=session, user_id=user_id, actor=admin, now=utcnow()
            )
            who = {"id": user.id, "display_name": user.display_name, "username": user.username}
    except NotFound as exc:
        raise not_found(exc.message) from exc
    forget_user(user_id)
    return _users_page(request, {"role": "staff"}, {}, temporary={**who, "password": password})


@router.get("/users", include_in_schema=False)
def users_page(request: Request) -> Response:
    require(request, *ADMIN)
    return _users_page(request, {"role": "staff"}, {})


@router.post("/users", include_in_schema=False)
async def users_create(request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    values = {
        k: str(form.get(k) or "").strip()
        for k in ("username", "display_name", "role", "expert_id", "level", "town")
    }
    password = str(form.get("password") or "")
    try:
        with session_scope(engine_of(request), write=True) as session:
            user = create_user(
                session=session,
                username=values["username"],
                password=password,
                role=values["role"],
                display_name=values["display_name"] or None,
                expert_id=int(values["expert_id"]) if values["expert_id"].isdigit() else None,
                level=int(values["level"]) if values["level"].isdigit() else None,
                town=values["town"] or None,
                actor=admin,
            )
            name = user.username
    except DomainError as exc:
        return _users_page(request, values, {exc.field or "_form": exc.message}, status=422)
    return redirect("/admin/users", flash=f"已创建用户 {name}")


# --- Expert bank -----------------------------------------------------------------------------------


def _expert_items(engine: Engine, *, kind: str = "", q: str = "") -> list[dict]:
    with Session(engine) as session:
        conditions: list[ColumnElement[bool]] = []
        if kind in {k.value for k in ExpertKind}:
            conditions.append(col(Expert.kind) == kind)
        if q:
            conditions.append(or_(col(Expert.name).like(f"%{q}%"), col(Expert.organization).like(f"%{q}%")))
        rows = session.exec(select(Expert).where(*conditions).order_by(col(Expert.id))).all()
        load = active_case_counts(session, [id_of(e) for e in rows])
        return [ExpertPublic.from_row(e, load.get(id_of(e), 0)).model_dump(mode="json") for e in rows]


@router.get("/experts", include_in_schema=False)
def experts_page(request: Request) -> Response:
    require(request, *ADMIN)
    kind = request.query_params.get("kind") or ""
    q = (request.query_params.get("q") or "").strip()[:MAX_QUERY_TEXT]
    items = _expert_items(engine_of(request), kind=kind, q=q)
    return render(
        request,
        "admin/experts.html",
        {
            "items": items,
            "kind": kind,
            "q": q,
            "kinds": list(ExpertKind),
            "categories": {c.value: c.label for c in Category},
            "import_result": None,
        },
    )


def _expert_values(expert: Expert | None) -> dict[str, Any]:
    if expert is None:
        return {"kind": "mediator", "max_active_cases": "5", "specialties": [], "active": True}
    return {
        "name": expert.name,
        "kind": expert.kind,
        "organization": expert.organization or "",
        "towns": "、".join(expert.towns or []),
        "village": expert.village or "",
        "max_active_cases": str(expert.max_active_cases),
        "id_number": expert.id_number or "",
        "phone": expert.phone or "",
        "room": expert.room or "",
        "specialties": list(expert.specialties or []),
        "active": expert.active,
        "version": expert.version,
        "relations": expert.declared_relations,
    }


def _expert_form(
    request: Request, expert_id: int | None, values: dict, errors: dict, status: int = 200
) -> Response:
    return render(
        request,
        "admin/expert_form.html",
        {
            "expert_id": expert_id,
            "v": values,
            "errors": errors,
            "kinds": list(ExpertKind),
            "categories": list(Category),
        },
        status=status,
    )


@router.get("/experts/new", include_in_schema=False)
def expert_new(request: Request) -> Response:
    require(request, *ADMIN)
    return _expert_form(request, None, _expert_values(None), {})


@router.get("/experts/{expert_id}", include_in_schema=False)
def expert_edit(expert_id: IdPath, request: Request) -> Response:
    require(request, *ADMIN)
    with Session(engine_of(request)) as session:
        expert = session.get(Expert, expert_id)
        if expert is None:
            raise not_found("专家不存在")
        values = _expert_values(expert)
    return _expert_form(request, expert_id, values, {})


def _read_expert_form(form: Any) -> tuple[dict, dict]:
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in EXPERT_FIELDS}
    values["specialties"] = [str(s) for s in form.getlist("specialties")]
    values["active"] = bool(form.get("active"))
    values["version"] = str(form.get("version") or "")
    body: dict[str, Any] = {k: v for k, v in values.items() if k in EXPERT_FIELDS and v}
    body["towns"] = [t for t in re.split(r"[;；、,，\s]+", values["towns"]) if t]
    body["specialties"] = values["specialties"]
    body["active"] = values["active"]
    return values, body


@router.post("/experts/new", include_in_schema=False)
async def expert_create(request: Request) -> Response:
    return await expert_save(request, None)


@router.post("/experts/{expert_id}", include_in_schema=False)
async def expert_update(expert_id: IdPath, request: Request) -> Response:
    return await expert_save(request, expert_id)


async def expert_save(request: Request, expert_id: int | None) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    values, body = _read_expert_form(form)
    try:
        data = ExpertCreate.model_validate(body)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
            errors.setdefault(loc[0] if loc else "_form", chinese_message(error))
        return _expert_form(request, expert_id, values, errors, status=422)
    # The form has no field for declared relations: an edit keeps the expert's own.
    changes = data.model_dump(mode="json", exclude={"declared_relations"})
    version = int(values["version"]) if values["version"].isdigit() else None
    try:
        with session_scope(engine_of(request), write=True) as session:
            if expert_id is None:
                expert = experts.create_expert(session=session, data=data, actor=admin, now=utcnow())
            else:
                expert = experts.update_expert(
                    session=session,
                    expert_id=expert_id,
                    changes=changes,
                    version=version,
                    actor=admin,
                    now=utcnow(),
                )
            name = expert.name
    except NotFound as exc:
        raise not_found(exc.message) from exc
    except StaleVersion as exc:
        return _expert_form(request, expert_id, values, {"_form": exc.message}, status=409)
    except InvalidInput as exc:  # e.g. a town outside the dictionary, with the closest names
        return _expert_form(request, expert_id, values, {exc.field or "_form": exc.message}, status=422)
    return redirect("/admin/experts", flash=f"已保存专家：{name}")


def _import_upload(engine: Engine, raw: bytes, suffix: str, admin: User) -> tuple[ImportReport, list[dict]]:
    """The import and the refreshed list; blocking work, run in a worker thread."""
    folder = get_settings().ensure_data_dir() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"experts-{uuid.uuid4().hex}.{suffix}"
    path.write_bytes(raw)
    try:
        report = import_experts(engine, path, actor_id=admin.id, actor_name=admin.username)
    finally:
        path.unlink(missing_ok=True)
    return report, _expert_items(engine)


@router.post("/experts-import", include_in_schema=False)
async def experts_import(request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    upload = form.get("file")
    filename = (upload.filename or "") if isinstance(upload, UploadFile) else ""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if not isinstance(upload, UploadFile) or suffix not in ("csv", "xlsx"):
        return redirect("/admin/experts", flash="请上传 CSV（UTF-8）或 XLSX 文件", kind="error")
    raw = await upload.read()
    engine = engine_of(request)
    status = 200
    try:
        # Parsing is CPU-bound for up to PARSE_BUDGET_SECONDS: off the event loop, which keeps serving.
        result, items = await run_in_threadpool(_import_upload, engine, raw, suffix, admin)
        accepted, errors = result.accepted, list(result.errors)
    except InvalidInput as exc:  # over the row limit or the time budget: nothing imported
        status, accepted, errors = 422, 0, [(1, exc.message)]
        items = await run_in_threadpool(_expert_items, engine)
    except Exception as exc:  # a broken file: tell the admin what the reader said
        return redirect("/admin/experts", flash=f"文件无法读取：{exc}", kind="error")
    return render(
        request,
        "admin/experts.html",
        {
            "items": items,
            "kind": "",
            "q": "",
            "kinds": list(ExpertKind),
            "categories": {c.value: c.label for c in Category},
            "import_result": {"filename": filename, "accepted": accepted, "errors": errors},
        },
        status=status,
    )


# --- Settings: clock limits with their basis, holiday schedules ------------------------------------


def _settings_page(
    request: Request, *, errors: list[str] | None = None, year: str = "", text: str = "", status: int = 200
) -> Response:
    from models import clocks

    settings = get_settings()
    with Session(engine_of(request)) as session:
        values = current_values(session)
        schedules = session.exec(select(HolidaySchedule).order_by(col(HolidaySchedule.year))).all()
        loaded = [
            {
                "year": s.year,
                "loaded_at": s.loaded_at,
                "lines": len([ln for ln in s.text.splitlines() if ln.split("#")[0].strip()]),
            }
            for s in schedules
        ]
    library = getattr(clocks, "_LIBRARY_YEARS", None)
    return render(
        request,
        "admin/settings.html",
        {
            "rules": list(CLOCK_RULES.values()),
            "counting": COUNTING_BASIS_ZH,
            "stage_limits": [(Stage(s).label, lim) for s, lim in STAGE_LIMITS.items()],
            "tunables": [t.model_dump(mode="json") for t in TunablePublic.all_of(values)],
            "high_risk_amount": settings.high_risk_amount,
            "schedules": loaded,
            "library": (library.start, library.stop - 1) if library else None,
            "errors": errors or [],
            "year": year,
            "text": text,
        },
        status=status,
    )


@router.post("/settings/tunables", include_in_schema=False)
async def tunables_update(request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    key = str(form.get("key") or "")
    raw = str(form.get("value") or "").strip()
    if not raw.isdigit():
        return _settings_page(request, errors=["请填写正整数"], status=422)
    try:
        with session_scope(engine_of(request), write=True) as session:
            set_value(session, key=key, value=int(raw), actor=admin)
    except DomainError as exc:
        return _settings_page(request, errors=[exc.message], status=422)
    label = TUNABLES[key].label
    return redirect("/admin/settings", flash=f"已将“{label}”设为 {raw}")


@router.get("/settings", include_in_schema=False)
def settings_page(request: Request) -> Response:
    require(request, *ADMIN)
    return _settings_page(request)


def _load_schedule(engine: Engine, year: int, text: str, admin: User) -> ScheduleLoaded:
    with session_scope(engine, write=True) as session:
        return load_holiday_schedule(session, year=year, text=text, actor=admin)


@router.post("/settings/holidays", include_in_schema=False)
async def holidays_upload(request: Request) -> Response:
    admin = require(request, *ADMIN)
    form = await form_of(request)
    year_text = str(form.get("year") or "").strip()
    text = str(form.get("text") or "")
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _settings_page(request, errors=["文件应为 UTF-8 编码的文本"], year=year_text, status=422)
    if not re.fullmatch(r"20\d\d", year_text):
        return _settings_page(request, errors=["请填写年度，如 2027"], year=year_text, text=text, status=422)
    year = int(year_text)
    try:
        # The uploaded text is parsed line by line: off the event loop, which keeps serving.
        schedule = await run_in_threadpool(_load_schedule, engine_of(request), year, text, admin)
    except ScheduleParseError as exc:
        return _settings_page(request, errors=[exc.message], year=year_text, text=text, status=422)
    except ValueError as exc:
        return _settings_page(request, errors=[str(exc)], year=year_text, text=text, status=422)
    return redirect(
        "/admin/settings",
        flash=f"已载入{year}年放假安排：节假日 {len(schedule.holidays)} 天，"
        f"调休上班 {len(schedule.workdays)} 天；{schedule.message}",
    )
