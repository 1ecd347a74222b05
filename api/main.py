"""The FastAPI app factory: JSON API under /api/v1, pages at /, /healthz and /verify outside auth."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import install_error_handlers
from api.pages import router as pages_router
from api.routes import (
    admin,
    applications,
    auth,
    bureau,
    cases,
    clocks,
    committees,
    dashboard,
    deliveries,
    documents,
    dossier,
    escalations,
    experts,
    meta,
    notifications,
    portal,
    public,
    reports,
    towns,
    users,
)
from api.security import content_security_policy
from models.db import get_engine
from models.settings import get_settings

STATIC_DIR = Path(__file__).parent / "static"


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", content_security_policy().encode()),
    (b"referrer-policy", b"same-origin"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000")


def _secure_cookie(value: bytes) -> bytes:
    attributes = {part.strip().lower() for part in value.split(b";")[1:]}
    return value if b"secure" in attributes else value + b"; Secure"


class SecurityHeaders:
    """Headers every answer carries (no framing, no MIME sniffing, no referrer to other sites; HSTS
    behind HTTPS). A plain ASGI wrapper: it costs a request next to nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        extra = _SECURITY_HEADERS + ([_HSTS] if https else [])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if https:
                    # Every cookie (session, login, flash) is Secure behind HTTPS, whoever set it.
                    headers = [(n, _secure_cookie(v) if n == b"set-cookie" else v) for n, v in headers]
                names = {name for name, _ in headers}
                message["headers"] = [*headers, *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def behind_proxies(app: ASGIApp) -> ASGIApp:
    """The app as `tiaojie serve` runs it. X-Forwarded-Proto/-For are believed from the proxies in
    TIAOJIE_TRUSTED_PROXIES only (uvicorn's middleware; behind an HTTPS proxy: Secure cookies, HSTS and
    the client's own address for the login throttle). None by default: anyone could send those headers,
    and a local process (or a proxy not configured) would otherwise choose the address the throttle counts."""
    trusted = get_settings().trusted_proxies.strip()
    if not trusted:
        return app
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    # uvicorn spells the ASGI types with its own TypedDicts, starlette with MutableMapping: one protocol that
    # mypy cannot match across the two packages' annotations.
    return ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type, return-value]


# The largest request body read: a case with 500 parties is ≈ 0.3 MB of JSON; an expert or town
# import (multipart upload, pages only) a few MB of XLSX.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_TOO_LARGE = "请求内容过大：JSON 不超过 2 MB，上传文件不超过 20 MB"
# What anyone may post without an account (the online application, its page): a dispute with a few
# parties is a few KB.
PUBLIC_FORM_PATHS = ("/api/v1/public/", "/apply")
MAX_PUBLIC_BYTES = 64 * 1024
_PUBLIC_TOO_LARGE = "申请内容过大：网上申请不超过 64 KB，当事人众多的请到中心窗口登记"


class _BodyTooLarge(StarletteHTTPException):
    # An HTTPException: FastAPI's body parsing lets it through (any other error there becomes a 400),
    # and the app's handler answers it (JSON for the API, a Chinese page for a browser).
    def __init__(self, message: str = _TOO_LARGE) -> None:
        super().__init__(status_code=413, detail=message, headers={"Connection": "close"})


class BodyLimit:
    """413 for a body over the limit, before anything parses it: a declared Content-Length is checked
    up front, and the bytes actually received are counted (chunked bodies, lying headers), so at most
    the limit is ever read into memory."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").lower()
        limit = MAX_UPLOAD_BYTES if content_type.startswith(b"multipart/form-data") else MAX_BODY_BYTES
        too_large = _TOO_LARGE
        if str(scope.get("path", "")).startswith(PUBLIC_FORM_PATHS):
            limit, too_large = MAX_PUBLIC_BYTES, _PUBLIC_TOO_LARGE
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, receive, send, too_large)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(too_large)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLarge:
            if started:  # an answer is already on its way: nothing better to send than closing
                raise
            await _too_large(scope, receive, send, too_large)


async def _too_large(scope: Scope, receive: Receive, send: Send, message: str = _TOO_LARGE) -> None:
    from fastapi.responses import JSONResponse

    # Connection: close — the rest of the body is not read, so the connection cannot be reused.
    response = JSONResponse({"detail": message}, status_code=413, headers={"Connection": "close"})
    await response(scope, receive, send)


@cache
def _routes() -> tuple[BaseRoute, ...]:
    """Every route of the app, built once per process and shared by the apps made here: FastAPI analyses
    each route's signature again on every include (about half a second for ours), and a route keeps no
    state of its app. The routes' dependency_overrides_provider is unset: app.dependency_overrides is not
    used (tests run the real dependencies)."""
    api = APIRouter(prefix="/api/v1")
    for module in (
        auth,
        meta,
        cases,
        dossier,
        deliveries,
        experts,
        escalations,
        dashboard,
        clocks,
        documents,
        notifications,
        admin,
        towns,
        committees,
        users,
        reports,
        bureau,
        applications,
        portal,
    ):
        api.include_router(module.router)
    everything = APIRouter()
    everything.include_router(api)
    everything.include_router(public.router)
    everything.include_router(pages_router)
    return tuple(everything.routes)


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(
        title="Tiaojie 矛调中心案件系统",
        version="1.0",
        description="社会矛盾纠纷调处化解中心：登记、受理、组建专班、调解、协议、回访、督办。",
        # The viewers are admin pages (api/pages/apidocs.py); /openapi.json stays public (CONTRACT).
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine or get_engine()
    install_error_handlers(app)
    app.router.routes.extend(_routes())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    return app
