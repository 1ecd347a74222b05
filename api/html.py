"""HTML answers: the templates, `render`, `redirect` with a flash message, the reader behind the session
cookie, whether a client `wants_html`, and the Chinese error page.

The pages, the public JSON routes' pages (/verify), the action adapter (api/actions.py) and the error
handlers (api/errors.py) all answer in HTML through this module, which imports none of them: the
pages' own guards and route class stay in api/pages/common.py."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine

from api.security import csrf_token_for, token_user
from models.enums import Role
from models.law import ARTICLES, cite_together
from models.money import format_amount
from models.tz import CHINA
from models.user import User

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SESSION_COOKIE = "tiaojie_session"
FLASH_COOKIE = "tiaojie_flash"


# --- Errors a page raises; the page route class turns them into Chinese HTML answers ------


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def denied(message: str = "当前角色无权访问此页面") -> PageError:
    return PageError(403, message)


def not_found(message: str = "案件不存在或您无权查看") -> PageError:
    return PageError(404, message)


# --- Templates --------------------------------------------------------------------------------


def _cn_datetime(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHINA)
    return moment.strftime(fmt)


def _cn_date(value: str | date | datetime | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        return value[:10] if len(value) <= 10 else _cn_datetime(value, "%Y-%m-%d")
    if isinstance(value, datetime):
        return _cn_datetime(value, "%Y-%m-%d")
    return value.isoformat()


def _money(value: Any) -> str:
    if value in (None, ""):
        return ""
    try:
        return format_amount(value)
    except ValueError:
        return str(value)  # a page shows what it cannot format rather than failing


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(dt=_cn_datetime, d=_cn_date, money=_money, percent=_percent)
# Every legal citation a page shows comes from the one table (models/law.py): {{ law.pml_4.cite_short }}.
env.globals.update(law=ARTICLES, cite_together=cite_together)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    user: User | None = None,
) -> HTMLResponse:
    ctx = dict(context or {})
    user = user if user is not None else getattr(request.state, "page_user", None)
    token = request.cookies.get(SESSION_COOKIE) or getattr(request.state, "new_session", None)
    ctx.setdefault("user", user)
    ctx.setdefault("csrf", csrf_token_for(token) if token else "")
    ctx.setdefault("nav", nav_for(user) if user else [])
    ctx.setdefault("path", request.url.path)
    ctx["request"] = request
    flash = request.cookies.get(FLASH_COOKIE)
    ctx.setdefault("flash", _read_flash(flash) if flash else None)
    html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(url: str, *, flash: str | None = None, kind: str = "ok") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(f"{kind}|{flash}"), httponly=True, samesite="lax", path="/")
    return response


def _read_flash(raw: str) -> dict[str, str] | None:
    kind, _, message = unquote(raw).partition("|")
    if kind not in ("ok", "error", "info"):
        return None
    return {"kind": kind, "message": message}


# --- Navigation by role -----------------------------------------------------------------------

_MENUS: dict[str, list[tuple[str, str]]] = {
    Role.staff: [
        ("/workbench", "工作台"),
        ("/cases/new", "纠纷登记"),
        ("/cases", "案件台账"),
        ("/subsidies", "以案定补"),
        ("/statistics", "调解统计"),
    ],
    Role.lawyer: [("/cases", "我的案件")],
    Role.reviewer: [
        ("/reviews", "案件评查"),
        ("/subsidies", "以案定补"),
        ("/statistics", "调解统计"),
        ("/cases", "案件台账"),
    ],
    Role.leader: [
        ("/dashboard", "积案看板"),
        ("/holding", "督办包案"),
        ("/cases", "案件台账"),
        ("/statistics", "调解统计"),
    ],
    Role.admin: [
        ("/workbench", "工作台"),
        ("/cases/new", "纠纷登记"),
        ("/cases", "案件台账"),
        ("/dashboard", "积案看板"),
        ("/admin/users", "用户管理"),
        ("/admin/experts", "专家库"),
        ("/admin/towns", "镇街字典"),
        ("/admin/committees", "调解组织"),
        ("/admin/settings", "期限与设置"),
        ("/reviews", "案件评查"),
        ("/subsidies", "以案定补"),
        ("/statistics", "调解统计"),
    ],
}

HOME: dict[str, str] = {
    Role.staff: "/workbench",
    Role.lawyer: "/cases",
    Role.leader: "/dashboard",
    Role.admin: "/workbench",
    Role.reviewer: "/reviews",
}


def nav_for(user: User) -> list[tuple[str, str]]:
    return _MENUS.get(user.role, [])


# --- The reader behind the session cookie ---------------------------------------------------


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def session_user(request: Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    # The cookie's server-side session must be live (logout revokes it): one query with the user.
    found = token_user(engine_of(request), token, purpose="session")
    if found is None:
        return None
    user, request.state.session_id = found
    return user if user.active else None


# --- Errors as Chinese pages for browsers ------------------------------------------------------

_ERROR_TITLES = {400: "请求有误", 403: "无权访问", 404: "未找到", 405: "不支持的操作"}
_HOME_LABELS = {
    "/workbench": "返回工作台",
    "/dashboard": "返回积案看板",
    "/cases": "返回案件台账",
    "/reviews": "返回案件评查",
}


def _accept_quality(accept: str, wanted: str) -> tuple[float, int]:
    """The q a client's Accept header gives `wanted`, and how specifically (2 named, 1 `type/*`,
    0 `*/*`, -1 not at all): the most specific range decides (RFC 9110 §12.5.1)."""
    best, specificity = 0.0, -1
    family = wanted.split("/")[0]
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        media = media.lower()
        level = {wanted: 2, f"{family}/*": 1, "*/*": 0}.get(media)
        if level is None or level <= specificity:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best, specificity = quality, level
    return best, specificity


def wants_html(request: Request) -> bool:
    """A browser (it names text/html and prefers it to JSON), not an API client: `*/*` alone, as
    curl and HTTP libraries send, or `application/json` get JSON."""
    accept = request.headers.get("accept", "")
    html, named = _accept_quality(accept, "text/html")
    json, _ = _accept_quality(accept, "application/json")
    return named >= 1 and html > 0 and html >= json


def error_page(request: Request, status: int, message: str, *, user: User | None = None) -> HTMLResponse:
    """The Chinese error page, with a way back: the reader's home page, or the login page."""
    user = user if user is not None else getattr(request.state, "page_user", None)
    home = HOME.get(user.role, "/cases") if user else "/login"
    return render(
        request,
        "error.html",
        {
            "title": _ERROR_TITLES.get(status, "操作未完成"),
            "message": message,
            "status": status,
            "home": home,
            "home_label": _HOME_LABELS.get(home, "前往登录"),
        },
        status=status,
        user=user,
    )
