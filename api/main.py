"""The FastAPI app factory: JSON API under /api/v1, pages at /, /healthz and /verify outside auth."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import install_error_handlers
from api.pages import router as pages_router
from api.routes import (
    admin,
    auth,
    cases,
    clocks,
    dashboard,
    documents,
    escalations,
    experts,
    meta,
    notifications,
    public,
    reports,
    towns,
    users,
)
from models.db import get_engine

STATIC_DIR = Path(__file__).parent / "static"


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"same-origin"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Headers every answer carries (no framing, no MIME sniffing, no referrer to other sites; HSTS
    behind HTTPS). A plain ASGI wrapper: it costs a request next to nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _SECURITY_HEADERS + ([_HSTS] if scope.get("scheme") == "https" else [])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(
        title="Tiaojie 矛调中心案件系统",
        version="1.0",
        description="社会矛盾纠纷调处化解中心：登记、受理、组建专班、调解、协议、回访、督办。",
    )
    app.state.engine = engine or get_engine()
    install_error_handlers(app)

    api = APIRouter(prefix="/api/v1")
    for module in (
        auth,
        meta,
        cases,
        experts,
        escalations,
        dashboard,
        clocks,
        documents,
        notifications,
        admin,
        towns,
        users,
        reports,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(public.router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)
    return app
