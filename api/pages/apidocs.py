"""The API's viewers, Swagger UI (/docs) and ReDoc (/redoc), for signed-in admins only: anyone else is
sent to the login page (a signed-in other role gets the 403 page), like every admin page. The
description they show, /openapi.json, stays public: CONTRACT.md names it for integrators, and it holds
the API's shapes, no data."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from api.pages.common import ADMIN, PageRoute, require
from api.security import content_security_policy

router = APIRouter(route_class=PageRoute)

# Both viewers load their scripts from this CDN (FastAPI's defaults), and run a worker from a blob.
CDN = "https://cdn.jsdelivr.net"
TITLE = "Tiaojie 矛调中心案件系统 接口文档"
ICON = "/static/emblem.svg"


def _viewer(html: str, *script_sources: str) -> HTMLResponse:
    policy = content_security_policy(CDN, *script_sources) + "; worker-src 'self' blob:"
    return HTMLResponse(html, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"})


@router.get("/docs", include_in_schema=False)
def swagger_ui(request: Request) -> HTMLResponse:
    require(request, *ADMIN)
    page = get_swagger_ui_html(openapi_url=request.app.openapi_url, title=TITLE, swagger_favicon_url=ICON)
    # FastAPI's page starts Swagger UI with one inline script: it runs by this answer's nonce only.
    nonce = secrets.token_urlsafe(18)
    html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
    return _viewer(html, f"'nonce-{nonce}'")


@router.get("/redoc", include_in_schema=False)
def redoc(request: Request) -> HTMLResponse:
    require(request, *ADMIN)
    page = get_redoc_html(
        openapi_url=request.app.openapi_url, title=TITLE, redoc_favicon_url=ICON, with_google_fonts=False
    )
    return _viewer(bytes(page.body).decode())
