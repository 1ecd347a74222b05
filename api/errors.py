"""Domain errors and validation errors as HTTP answers, with Chinese messages."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.lifecycle import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
    TransitionNotAllowed,
)
from models.public import ErrorPublic

log = logging.getLogger(__name__)

# The error answers every JSON router declares, so /openapi.json documents the one error shape.
_ERROR = {"model": ErrorPublic}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_ERROR, "description": "未登录或登录已过期"},
    403: {**_ERROR, "description": "当前角色无权执行此操作"},
    404: {**_ERROR, "description": "对象不存在或无权查看"},
    409: {**_ERROR, "description": "当前阶段不允许此操作，或记录已被他人修改"},
    422: {**_ERROR, "description": "输入不正确：detail 逐项列出字段（loc）及中文原因（msg）"},
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

# Pydantic error types → Chinese reasons (the contract's 422 `detail` keeps FastAPI's shape).
_PYDANTIC_MESSAGES = {
    "missing": "必填项未填写",
    "string_too_short": "内容不能为空或过短",
    "string_too_long": "内容过长",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为金额数字",
    "decimal_type": "应为金额数字",
    "bool_parsing": "应为是或否",
    "bool_type": "应为是或否",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式应为 ISO 8601，如 2026-11-25T09:30:00+08:00",
    "datetime_from_date_parsing": "时间格式应为 ISO 8601，如 2026-11-25T09:30:00+08:00",
    "timezone_aware": "时间须带时区，如 +08:00",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "greater_than_equal": "数值过小",
    "greater_than": "数值过小",
    "less_than_equal": "数值过大",
    "less_than": "数值过大",
    "too_short": "至少需要填写一项",
    "too_long": "项目过多",
    "list_type": "应为列表",
    "dict_type": "格式不正确",
    "model_type": "格式不正确",
    "json_invalid": "JSON 格式不正确",
    "extra_forbidden": "不允许的字段",
    "decimal_max_places": "金额最多两位小数",
    "decimal_max_digits": "金额过大",
}


def chinese_message(error: dict) -> str:
    if error.get("type") == "value_error":
        # Our validators raise ValueError with a Chinese message; pydantic prefixes "Value error, ".
        return str(error.get("msg", "")).removeprefix("Value error, ")
    reason = _PYDANTIC_MESSAGES.get(error.get("type", ""))
    if reason and error.get("type") == "enum" and error.get("ctx", {}).get("expected"):
        return f"{reason}（可选：{error['ctx']['expected']}）"
    return reason or str(error.get("msg", "输入不正确"))


def validation_detail(errors: list[dict]) -> list[dict]:
    return [
        {"loc": list(e.get("loc", ())), "msg": chinese_message(e), "type": e.get("type", "value_error")}
        for e in errors
    ]


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


def domain_error_body(exc: DomainError) -> dict:
    if isinstance(exc, InvalidInput):
        loc = ["body", *(exc.field.split(".") if exc.field else [])]
        return {"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}
    return {"detail": exc.message}


def http_error_detail(status_code: int, detail: Any) -> Any:
    """Our own HTTPExceptions already say why in Chinese; Starlette's default phrase is replaced."""
    default = _default_phrase(status_code)
    if detail is None or detail == default:
        return _STATUS_MESSAGES.get(status_code, "请求无法处理" if status_code < 500 else "服务器内部错误")
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
    # Imported here, not at the top: the pages import this module for its Chinese messages.
    from api.pages.common import wants_html

    return 400 <= status_code < 500 and not request.url.path.startswith("/api/") and wants_html(request)


def _reader(request: Request) -> Any:
    """The logged-in reader, to offer their home page; an error page must render even if the
    database cannot say who it is."""
    from api.pages.common import session_user

    try:
        return session_user(request)
    except Exception:
        log.warning("error page for %s without its reader", request.url.path, exc_info=True)
        return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=headers)
        if _page_answer(request, exc.status_code):
            # A person following a stale link or typing an address: a Chinese page with a way back,
            # not `{"detail": ...}`. API clients (and everything under /api/) keep the JSON shape.
            from api.pages.common import error_page

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
        return JSONResponse(status_code=422, content={"detail": validation_detail(list(exc.errors()))})

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=domain_status(exc), content=domain_error_body(exc))

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": "记录已被他人修改，请刷新后重试"})
