"""Domain errors and validation errors as HTTP answers, with Chinese messages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError

from models.lifecycle import DomainError, Forbidden, InvalidInput, StaleVersion, TransitionNotAllowed

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
    if isinstance(exc, InvalidInput):
        return 422
    return 400


def domain_error_body(exc: DomainError) -> dict:
    if isinstance(exc, InvalidInput):
        loc = ["body", *(exc.field.split(".") if exc.field else [])]
        return {"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}
    return {"detail": exc.message}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": validation_detail(list(exc.errors()))})

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=domain_status(exc), content=domain_error_body(exc))

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": "记录已被他人修改，请刷新后重试"})
