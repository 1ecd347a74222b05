"""Routes outside /api/v1 that need no login: health and document verification."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from models.db import ping

router = APIRouter(tags=["public"])


@router.get("/healthz", summary="健康检查")
def healthz(request: Request) -> JSONResponse:
    try:
        ping(request.app.state.engine)
    except Exception:
        return JSONResponse(status_code=503, content={"status": "error", "database": "unreachable"})
    return JSONResponse({"status": "ok", "database": "ok"})
