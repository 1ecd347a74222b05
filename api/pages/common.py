"""What every page route shares: the login and role guards, the CSRF-checked form, the session cookie,
and `PageRoute`, which turns a page's errors into Chinese HTML (templates, `render` and flash messages
are in api/html.py).

Pages are thin: they read a form, validate it with the schemas in `models/schemas.py`, call the same
domain functions as the JSON API in one transaction, then wake the relay (`after_commit`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from markupsafe import Markup
from starlette.datastructures import FormData

from api.html import SESSION_COOKIE, PageError, denied, error_page, session_user
from api.security import csrf_valid
from models.enums import Role
from models.roles import ADMIN as ADMIN  # the pages' role guards, re-exported
from models.roles import BACKLOG as BACKLOG
from models.roles import EVERYONE as EVERYONE
from models.roles import LEADERS as LEADERS
from models.roles import STAFF as STAFF
from models.user import User

LOGIN_COOKIE = "tiaojie_login"  # pre-session value the login form's CSRF token is bound to


# --- Errors a page raises; PageRoute turns them into Chinese HTML answers ----------------------


class LoginRequired(Exception):
    pass


class PasswordChangeRequired(Exception):
    """The user's password was reset by an admin: every page leads to /password until it is changed."""


PASSWORD_PAGE = "/password"


# --- Session cookie, roles, CSRF ---------------------------------------------------------------


def require(request: Request, *roles: Role) -> User:
    """The logged-in user if their role may see this page; else a redirect to /login or a 403 page."""
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    if user.must_change_password:
        raise PasswordChangeRequired()
    request.state.page_user = user
    if roles and user.role not in {r.value for r in roles}:
        raise denied()
    return user


async def form_of(request: Request) -> FormData:
    """The posted form, after the CSRF check (the token is bound to this browser's session cookie)."""
    form = await request.form()
    bound_to = request.cookies.get(SESSION_COOKIE) or ""
    if not bound_to or not csrf_valid(bound_to, form.get("csrf_token")):
        raise PageError(403, "表单校验失败（CSRF）：页面可能已过期或来自其他网站，请刷新页面后重新提交")
    return form


def set_session(response: Response, token: str, *, secure: bool) -> str:
    """The session cookie (a token naming a server-side session, api/security.issue_token); Secure when
    the request came over HTTPS."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")
    return token


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


# --- Forms posted after the session expired ------------------------------------------------


def referring_page(request: Request) -> str | None:
    """The local page (path and query) a form was posted from, from this site's Referer only (the
    Referrer-Policy is same-origin); None otherwise."""
    referer = urlsplit(request.headers.get("referer") or "")
    if referer.scheme not in ("http", "https") or referer.netloc != request.url.netloc:
        return None
    page = referer.path + (f"?{referer.query}" if referer.query else "")
    if not page.startswith("/") or page.startswith(("//", "/login")) or "\\" in page:
        return None
    return page


# --- The route class: page errors become Chinese HTML ----------------------------------------


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PasswordChangeRequired:
                return RedirectResponse(PASSWORD_PAGE, status_code=303)
            except LoginRequired:
                if request.method in ("GET", "HEAD"):
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
                # A form posted after the session expired: its action has no page (a 405 after login),
                # so back to the page the form was on, which then says to submit it again.
                page = referring_page(request)
                return RedirectResponse(
                    f"/login?expired=1&next={quote(page)}" if page else "/login?expired=1", status_code=303
                )
            except RequestValidationError:
                # A malformed path or query (e.g. /cases/abc): a page, not the API's JSON.
                return error_page(request, 404, "页面不存在或地址有误")
            except PageError as exc:
                return error_page(request, exc.status, exc.message)

        return page_handler


def svg(markup: str) -> Markup:
    """Server-drawn SVG: every label in it was escaped where it was built."""
    return Markup(markup)
