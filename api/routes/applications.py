"""Online application (网上申请): no account, size- and rate-limited, validated like intake."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.errors import ERROR_RESPONSES
from api.security import TooManyRequests, application_allowance, client_address
from flows.applications import apply_online
from models.db import session_scope, utcnow
from models.public import ErrorPublic, OnlineApplicationPublic
from models.schemas import CaseCreate
from runtime.relay import after_commit

router = APIRouter(tags=["public"])


def take_allowance(request: Request) -> None:
    """429 in Chinese (with Retry-After) once this address has filed its allowance in the window."""
    try:
        application_allowance(request.app).take(client_address(request))
    except TooManyRequests as exc:
        raise HTTPException(
            status_code=429, detail=exc.message, headers={"Retry-After": str(exc.retry_after)}
        ) from exc


def file_application(request: Request, body: CaseCreate) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        case, code = apply_online(session=session, data=body, now=utcnow())
        out = {"case_no": case.case_no, "code": code}
    after_commit()
    return out


@router.post(
    "/public/applications",
    status_code=201,
    response_model=OnlineApplicationPublic,
    summary="网上申请调解（无需登录）：登记待中心审查，返回案号和申请人的查询码",
    description="请求体同登记纠纷（channel 须为 online，不含转介信息；申请人须填身份证号或统一社会信用代码"
    "及手机号码）。请求体不超过 64 KB；同一地址 15 分钟内至多提交 5 次。",
    responses={
        **ERROR_RESPONSES,
        413: {"model": ErrorPublic, "description": "请求内容过大（网上申请不超过 64 KB）"},
        429: {"model": ErrorPublic, "description": "提交过于频繁（见 Retry-After）"},
    },
)
async def create_application(request: Request, body: CaseCreate) -> dict:
    take_allowance(request)
    return await run_in_threadpool(file_application, request, body)
