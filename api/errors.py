"""Domain errors and validation errors as HTTP answers, with Chinese messages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.html import error_page, session_user, wants_html
from models.lifecycle import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
    TransitionNotAllowed,
    problems_of,
)
from models.public import ErrorPublic
from models.validation import ValidationError as ModelValidationError

log = logging.getLogger(__name__)

# The error answers every JSON router declares, so /openapi.json documents the one error shape.
_ERROR = {"model": ErrorPublic}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "请求内容无法解析（如 JSON 不是 UTF-8 编码，表单字段过多）"},
    401: {**_ERROR, "description": "未登录或登录已过期"},
    403: {**_ERROR, "description": "当前角色无权执行此操作"},
    404: {**_ERROR, "description": "对象不存在或无权查看"},
    409: {**_ERROR, "description": "当前阶段不允许此操作，或记录已被他人修改"},
    413: {**_ERROR, "description": "请求内容过大（JSON 不超过 2 MB）"},
    422: {
        **_ERROR,
        "description": (
            "输入不正确：detail 逐项列出字段（loc）及中文原因（msg）；业务规则发现的全部错误另列于 errors"
        ),
    },
    503: {**_ERROR, "description": "数据库暂时无法连接，请稍后重试"},
}

# Starlette's own answers (an unknown path, a wrong method) carry the English status phrase.
_STATUS_MESSAGES = {
    400: "请求格式不正确",
    401: "未登录或登录已过期",
    403: "当前角色无权执行此操作",
    404: "请求的地址不存在",
    405: "不支持该请求方法",
    406: "不支持请求的返回格式",
    413: "请求内容过大",
    415: "不支持的内容类型",
    429: "请求过于频繁，请稍后再试",
}

# Pydantic error types → Chinese reasons (the contract's 422 `detail` keeps FastAPI's shape). Every type
# pydantic can raise for a request is here; an unknown one answers "输入不正确", never English.
_PYDANTIC_MESSAGES = {
    "missing": "必填项未填写",
    "missing_argument": "必填项未填写",
    "string_type": "应为文本",
    "string_unicode": "应为有效的 UTF-8 文本",
    "string_too_short": "内容不能为空或过短",
    "string_too_long": "内容过长",
    "string_pattern_mismatch": "格式不正确",
    "string_not_ascii": "只能包含英文字母、数字和符号",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "int_parsing_size": "数值过大",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "finite_number": "应为有限的数字（不接受 NaN 或 Infinity）",
    "multiple_of": "数值不符合要求的倍数",
    "decimal_parsing": "应为金额数字",
    "decimal_type": "应为金额数字",
    "decimal_max_places": "金额最多两位小数",
    "decimal_max_digits": "金额过大",
    "decimal_whole_digits": "金额过大",
    "bool_parsing": "应为是或否（true 或 false）",
    "bool_type": "应为是或否（true 或 false）",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_inexact": "日期格式应为 YYYY-MM-DD",
    "date_past": "日期应早于今天",
    "date_future": "日期应晚于今天",
    "time_type": "时间格式不正确",
    "time_parsing": "时间格式不正确",
    "datetime_type": "时间格式应为 ISO 8601，如 2026-11-25T09:30:00+08:00",
    "datetime_parsing": "时间格式应为 ISO 8601，如 2026-11-25T09:30:00+08:00",
    "datetime_object_invalid": "时间不存在（日期或时刻超出范围）",
    "datetime_from_date_parsing": "时间格式应为 ISO 8601，如 2026-11-25T09:30:00+08:00",
    "datetime_past": "时间应早于现在",
    "datetime_future": "时间应晚于现在",
    "timezone_aware": "时间须带时区，如 +08:00",
    "timezone_naive": "时间不应带时区",
    "timezone_offset": "时区不正确",
    "time_delta_type": "时长格式不正确",
    "time_delta_parsing": "时长格式不正确",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "greater_than_equal": "数值过小",
    "greater_than": "数值过小",
    "less_than_equal": "数值过大",
    "less_than": "数值过大",
    "too_short": "至少需要填写一项",
    "too_long": "项目过多",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "set_type": "应为列表",
    "iterable_type": "应为列表",
    "dict_type": "应为 JSON 对象（{...}）",
    "mapping_type": "应为 JSON 对象（{...}）",
    "model_type": "应为 JSON 对象（{...}）",
    "model_attributes_type": "应为 JSON 对象（{...}）",
    "json_invalid": "JSON 格式不正确",
    "json_type": "JSON 格式不正确",
    "extra_forbidden": "不允许的字段",
    "none_required": "此处应为空（null）",
    "url_type": "网址格式不正确",
    "url_parsing": "网址格式不正确",
    "uuid_type": "编号格式不正确",
    "uuid_parsing": "编号格式不正确",
    "union_tag_invalid": "取值不在允许范围内",
    "union_tag_not_found": "缺少类型字段",
    "recursion_loop": "嵌套过深",
    "recursion_depth_exceeded": "嵌套过深",
    "bytes_type": "应为文本",
    "bytes_invalid_encoding": "编码不正确",
}

# The bound in a range or length error, said in Chinese: "不能小于 1", "最多 120 个字符".
_BOUNDED = {
    "greater_than_equal": ("ge", "不能小于 {}"),
    "greater_than": ("gt", "应大于 {}"),
    "less_than_equal": ("le", "不能大于 {}"),
    "less_than": ("lt", "应小于 {}"),
    "string_too_long": ("max_length", "最多 {} 个字符"),
    "string_too_short": ("min_length", "内容不能为空或少于 {} 个字符"),
    "too_long": ("max_length", "最多 {} 项"),
    "too_short": ("min_length", "至少需要 {} 项"),
    "decimal_max_digits": ("max_digits", "金额过大（最多 {} 位数字）"),
}


def chinese_message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "value_error":
        # Our validators raise ValueError with a Chinese message; pydantic prefixes "Value error, ".
        return str(error.get("msg", "")).removeprefix("Value error, ")
    ctx = error.get("ctx") or {}
    reason = _PYDANTIC_MESSAGES.get(kind)
    if reason and kind == "enum" and ctx.get("expected"):
        return f"{reason}（可选：{ctx['expected']}）"
    if kind in _BOUNDED:
        key, template = _BOUNDED[kind]
        if key in ctx:
            return template.format(ctx[key])
    if kind in ("json_invalid", "json_type") and ctx.get("error"):
        return "JSON 格式不正确，请检查括号、引号和逗号"
    return reason or "输入不正确"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The request models an annotation holds (`X`, `X | None`, `list[X]`, `Annotated[X, ...]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def field_title(model: Any, loc: Sequence[Any]) -> str | None:
    """The Chinese `title` of the field a location names inside `model` (list indices, digits in a
    domain error's dotted path, skipped): the one place a field's label is written."""
    title = None
    models = _models_in(model)
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            continue
        field = next((m.model_fields[part] for m in models if part in m.model_fields), None)
        if field is None:
            return title if not models else None
        title = field.title
        models = _models_in(field.annotation)
    return title


def describe_errors(errors: Sequence[Any], label: Callable[[list], str | None]) -> list[dict]:
    """Pydantic's errors in Chinese, each with its place (`loc`) and, where the input's declaration
    gives the field a title, its label (`field`): what the API answers and the pages show."""
    detail = []
    for e in errors:
        loc = [p if isinstance(p, (str, int)) else str(p) for p in e.get("loc", ())]
        item = {"loc": loc, "msg": chinese_message(e), "type": e.get("type", "value_error")}
        if title := label(loc):
            item["field"] = title
        detail.append(item)
    return detail


def describe_validation(exc: PydanticValidationError, model: type[BaseModel]) -> str:
    """A command's validation errors as one Chinese sentence, for a page's flash message."""
    detail = describe_errors(exc.errors(), lambda loc: field_title(model, loc))
    return "；".join(f"{d['field']}：{d['msg']}" if "field" in d else d["msg"] for d in detail)


def body_model(request: Request) -> Any:
    """The route's request body model (None for a route without a body)."""
    body = getattr(request.scope.get("route"), "body_field", None)
    return body.field_info.annotation if body is not None else None


def request_label(request: Request, loc: Sequence[Any]) -> str | None:
    """The title of the input a location points at: a field of the body model, or a query or path
    parameter's declared `title`."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if len(loc) < 2 or dependant is None:
        return None
    if loc[0] == "body":
        return field_title(body_model(request), loc[1:])
    params = [
        p
        for p in get_flat_params(dependant)
        if getattr(getattr(p.field_info, "in_", None), "value", None) == loc[0]
    ]
    return next((p.field_info.title for p in params if p.alias == loc[1]), None)


def domain_status(exc: DomainError) -> int:
    if isinstance(exc, (TransitionNotAllowed, StaleVersion)):
        return 409
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, InvalidInput):
        return 422
    return 400


def domain_error_body(exc: DomainError, model: Any = None) -> dict:
    if isinstance(exc, InvalidInput):
        # Every problem the action found, each with its place: `detail` in FastAPI's shape (as in
        # v1.0), `errors` the same as {field: dotted path, message} for clients that want it plain.
        problems = problems_of(exc)
        detail = []
        for p in problems:
            loc = ["body", *(p.field.split(".") if p.field else [])]
            item = {"loc": loc, "msg": p.message, "type": "value_error"}
            label = field_title(model, loc[1:])
            if label:
                item["field"] = label
            detail.append(item)
        return {"detail": detail, "errors": [{"field": p.field, "message": p.message} for p in problems]}
    return {"detail": exc.message}


# English reasons FastAPI and Starlette give for requests they could not read.
_ENGLISH_DETAILS = {
    "There was an error parsing the body": "请求内容无法解析：JSON 须为 UTF-8 编码的有效 JSON",
    "Too many fields": "表单字段过多",
    "Too many files": "上传的文件过多",
    "Part exceeded maximum size": "表单中某一项内容过大",
    "Did not find CR at end of boundary": "表单格式不正确",
    "Missing boundary in multipart": "表单格式不正确",
}


def _chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def http_error_detail(status_code: int, detail: Any) -> Any:
    """Our own HTTPExceptions already say why in Chinese; Starlette's and FastAPI's English reasons
    (the status phrase, "There was an error parsing the body", "Too many fields …") are replaced."""
    default = _STATUS_MESSAGES.get(status_code, "请求无法处理" if status_code < 500 else "服务器内部错误")
    if detail is None or detail == _default_phrase(status_code):
        return default
    if isinstance(detail, str) and not _chinese(detail):
        return next((zh for en, zh in _ENGLISH_DETAILS.items() if detail.startswith(en)), default)
    return detail


def _default_phrase(status_code: int) -> str | None:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return None


def response_mismatch_detail(errors: list[dict]) -> str:
    """Names where the answer broke its declared model, never the values (they may be personal)."""
    places = list(
        dict.fromkeys(".".join(map(str, e.get("loc", ()))) + f"（{e.get('type', '')}）" for e in errors)
    )
    return "服务器内部错误：返回内容与接口声明不符：" + "；".join(places[:10])


def _page_answer(request: Request, status_code: int) -> bool:
    return 400 <= status_code < 500 and not request.url.path.startswith("/api/") and wants_html(request)


def _reader(request: Request) -> Any:
    """The logged-in reader, to offer their home page; an error page must render even if the
    database cannot say who it is."""
    try:
        return session_user(request)
    except Exception:
        log.warning("error page for %s without its reader", request.url.path, exc_info=True)
        return None


def allow_header(request: Request) -> dict[str, str]:
    """`Allow` with every method the path answers. Starlette's 405 names the methods of the first
    route whose path matched, and a path here often has one route per method (GET and POST apart)."""
    methods: set[str] = set()
    # iter_route_contexts: each route with its full path, through the included routers.
    for route in iter_route_contexts(request.app.router.routes):
        if route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    # No route with methods (the static files' mount): its own answer already names them.
    return {"Allow": ", ".join(sorted(methods))} if methods else {}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), **allow_header(request)}
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=headers)
        if _page_answer(request, exc.status_code):
            # A person following a stale link or typing an address: a Chinese page with a way back,
            # not `{"detail": ...}`. API clients (and everything under /api/) keep the JSON shape.
            message = http_error_detail(exc.status_code, exc.detail)
            page = error_page(
                request,
                exc.status_code,
                message if isinstance(message, str) else "请求无法处理",
                user=await run_in_threadpool(_reader, request),
            )
            if headers:
                page.headers.update(headers)
            return page
        return JSONResponse(
            {"detail": http_error_detail(exc.status_code, exc.detail)},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(ResponseValidationError)
    async def _lying_response(request: Request, exc: ResponseValidationError) -> JSONResponse:
        # A route answered something its response_model does not allow: a bug on our side, never the
        # client's. Logged with the places (not the values) and answered as a 500.
        errors = [{k: e.get(k) for k in ("loc", "type", "msg")} for e in exc.errors()]
        log.error("response of %s %s does not match its model: %s", request.method, request.url.path, errors)
        return JSONResponse(status_code=500, content={"detail": response_mismatch_detail(errors)})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": describe_errors(exc.errors(), lambda loc: request_label(request, loc))},
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            status_code=domain_status(exc), content=domain_error_body(exc, body_model(request))
        )

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": "记录已被他人修改，请刷新后重试"})

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        # The transaction was rolled back (session_scope), so nothing is stored. Said in Chinese and
        # without the statement or its values (they may be personal).
        status, message = database_failure(exc)
        log.log(
            logging.ERROR if status >= 500 else logging.WARNING,
            "%s %s: database %s",
            request.method,
            request.url.path,
            type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
            exc_info=status >= 500,
        )
        return await _failure_answer(request, status, message)

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> Response:
        log.error("%s %s: no database connection free", request.method, request.url.path)
        return await _failure_answer(request, 503, DATABASE_UNAVAILABLE)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> Response:
        # A date or a number past what the calendar or the database can hold (the year 9999 plus a
        # period, an id past 2**63): the input's doing, so a 422 — the checks at the edges should
        # have caught it, and the log says where they did not.
        log.warning("%s %s: overflow", request.method, request.url.path, exc_info=True)
        return await _failure_answer(request, 422, "日期或数值超出可处理的范围，请检查输入")

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> Response:
        # Bad input that got past the request's declared types: a rule of models.validation applied
        # inside a flow, or a NUL that PostgreSQL's driver refuses in any string ("A string literal
        # cannot contain NUL"). Anything else is a bug: the last resort's answer.
        if isinstance(exc, ModelValidationError):
            return await _failure_answer(request, 422, exc.message)
        if "NUL (0x00)" in str(exc):
            return await _failure_answer(request, 422, "含有不可见的控制字符（U+0000），请删除后重新输入")
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return await _failure_answer(request, 500, INTERNAL_ERROR)

    @app.exception_handler(Exception)
    async def _last_resort(request: Request, exc: Exception) -> Response:
        # Never the exception's text (English, maybe personal data): the log has the traceback.
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return await _failure_answer(request, 500, INTERNAL_ERROR)


DATABASE_UNAVAILABLE = "数据库暂时无法连接，请稍后重试"
INTERNAL_ERROR = "服务器内部错误，请稍后重试；如果问题持续，请联系管理员"


def database_failure(exc: DBAPIError) -> tuple[int, str]:
    """Status and Chinese reason for a failed statement: a lost connection is 503 (retry later), a
    value the column cannot hold 422, a clash with a stored row 409."""
    if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
        return 503, DATABASE_UNAVAILABLE
    if isinstance(exc, DataError):
        return 422, "输入的数据无法保存：超出范围或含有不允许的字符"
    if isinstance(exc, IntegrityError):
        return 409, "与已有记录冲突，或引用的记录不存在，请刷新后重试"
    return 500, INTERNAL_ERROR


async def _failure_answer(request: Request, status: int, message: str) -> Response:
    """The API's `{"detail"}`; a Chinese page for a browser outside /api/ (without asking the
    database who is reading: it may be the thing that failed)."""
    if not request.url.path.startswith("/api/") and wants_html(request):
        return error_page(request, status, message)
    if status == 422:
        return JSONResponse(
            status_code=422, content={"detail": [{"loc": ["body"], "msg": message, "type": "value_error"}]}
        )
    return JSONResponse(status_code=status, content={"detail": message})
