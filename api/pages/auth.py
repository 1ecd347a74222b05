"""Login and logout for the pages (session cookie; the JSON API uses bearer tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import forget_user
from api.html import FLASH_COOKIE, HOME, SESSION_COOKIE, PageError, engine_of, redirect, render, session_user
from api.pages.common import (
    LOGIN_COOKIE,
    PASSWORD_PAGE,
    LoginRequired,
    PageRoute,
    form_of,
    new_login_nonce,
    set_session,
)
from api.security import (
    LoginLocked,
    authenticate,
    cookie_secure,
    csrf_token_for,
    csrf_valid,
    issue_token,
)
from api.security import logout as revoke_token_session
from flows.users import change_password
from models.db import id_of, session_scope, utcnow
from models.lifecycle import DomainError
from models.users import MIN_PASSWORD_LENGTH

router = APIRouter(route_class=PageRoute)

# Shown on the page a form was posted from, once its user, whose session had expired, logged in again.
EXPIRED_RESUBMIT = "登录已过期，请重新提交"


def _safe_next(value: str | None) -> str | None:
    # Only local paths: "//evil.example" or "http://…" would make the login an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    # A wrong password answers the POST: where to go and why come from its form, not the query.
    given = form if form is not None else dict(request.query_params)
    nonce = request.cookies.get(LOGIN_COOKIE) or new_login_nonce()
    response = render(
        request,
        "login.html",
        {
            "error": error,
            "username": username,
            "login_csrf": csrf_token_for(nonce),
            "next": _safe_next(given.get("next")) or "",
            "expired": given.get("expired") == "1",
        },
        status=status,
        user=None,
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, httponly=True, samesite="lax", secure=cookie_secure(request), path="/login"
    )
    return response


@router.get("/login", include_in_schema=False)
def login_form(request: Request) -> Response:
    user = session_user(request)
    if user is not None:
        return RedirectResponse(HOME.get(user.role, "/cases"), status_code=303)
    return _login_page(request)


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    form = await request.form()
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not nonce or not csrf_valid(nonce, form.get("csrf_token")):
        raise PageError(403, "登录表单已过期（CSRF 校验失败），请刷新页面后重新登录")
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    kept = {k: str(form.get(k) or "") for k in ("next", "expired")}
    try:
        # Read-only while the password is checked (argon2 is slow): no write lock held meanwhile.
        with Session(engine_of(request), expire_on_commit=False) as session:
            user = authenticate(session, username, password, request=request)
    except LoginLocked as exc:
        response = _login_page(request, error=exc.message, username=username, status=429, form=kept)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if user is None:
        return _login_page(request, error="用户名或密码不正确", username=username, status=401, form=kept)
    with session_scope(engine_of(request), write=True) as session:
        token = issue_token(session, id_of(user), purpose="session", now=utcnow())
    target = _safe_next(str(form.get("next") or "")) or HOME.get(user.role, "/cases")
    if user.must_change_password:
        target = PASSWORD_PAGE  # an admin's temporary password: the user's own comes first
        response = RedirectResponse(target, status_code=303)
    elif form.get("expired") == "1":
        # Sent here by a form posted after the session expired: nothing of it was saved.
        response = redirect(target, flash=EXPIRED_RESUBMIT, kind="error")
    else:
        response = RedirectResponse(target, status_code=303)
    set_session(response, token, secure=cookie_secure(request))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _password_page(request: Request, user, *, errors: dict | None = None, status: int = 200) -> Response:
    context = {"forced": user.must_change_password, "errors": errors or {}, "min_length": MIN_PASSWORD_LENGTH}
    if user.must_change_password:
        context["nav"] = []  # until the password is changed there is nowhere else to go: no menu
    return render(request, "password.html", context, status=status, user=user)


def _logged_in(request: Request):
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    return user


@router.get(PASSWORD_PAGE, include_in_schema=False)
def password_form(request: Request) -> Response:
    return _password_page(request, _logged_in(request))


@router.post(PASSWORD_PAGE, include_in_schema=False)
async def password_change(request: Request) -> Response:
    user = _logged_in(request)
    form = await form_of(request)
    current = str(form.get("password") or "")
    new = str(form.get("new_password") or "")
    if new != str(form.get("new_password2") or ""):
        return _password_page(request, user, errors={"new_password2": "两次输入的新密码不一致"}, status=422)
    try:
        with session_scope(engine_of(request), write=True) as session:
            # This browser stays logged in; every other session of the account ends.
            change_password(
                session=session,
                user_id=user.id,
                current=current,
                new=new,
                now=utcnow(),
                keep_session=getattr(request.state, "session_id", None),
            )
    except DomainError as exc:
        return _password_page(request, user, errors={exc.field or "_form": exc.message}, status=422)
    forget_user(user.id)
    return redirect(HOME.get(user.role, "/cases"), flash="密码已修改")


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    await form_of(request)
    token = request.cookies.get(SESSION_COOKIE) or ""
    # The server-side session ends: the old cookie, if kept or copied, opens nothing any more.
    await run_in_threadpool(revoke_token_session, engine_of(request), token, purpose="session")
    response = redirect("/login", flash="您已安全退出", kind="info")
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=cookie_secure(request), httponly=True, samesite="lax"
    )
    return response


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    user = session_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME.get(user.role, "/cases"), status_code=303)


__all__ = ["FLASH_COOKIE", "router"]
