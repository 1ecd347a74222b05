"""Dependencies as Annotated aliases, declared once: route signatures read like sentences."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from pydantic import AfterValidator
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.security import read_claims
from models.auth_session import session_user as live_session_user
from models.case_queries import CaseFilters
from models.db import utcnow
from models.enums import Category, Role, Stage
from models.roles import ADMIN, BACKLOG, LEADERS, STAFF, is_director
from models.user import User
from models.validation import MAX_DB_ID, MAX_QUERY_TEXT, ValidationError, clean_text

# Every id in a path and every offset, declared once: ids are INTEGER columns, so a larger number names
# nothing, and it must not reach a query (SQLite overflows past 2**63, PostgreSQL's INTEGER past 2**31).
# Refused with 422 (404 page for browsers) before the route runs.
IdPath = Annotated[int, Path(ge=1, le=MAX_DB_ID, title="编号", description="记录编号")]
Offset = Annotated[int, Query(ge=0, le=MAX_DB_ID, title="起始位置", description="跳过前若干条")]


def _query_text(value: str | None) -> str | None:
    # The text rules of a body apply to a query too: a NUL or a control character names nothing (and
    # PostgreSQL's driver refuses a NUL outright).
    if value is None:
        return None
    try:
        return clean_text(value, multiline=False) or None
    except ValidationError as exc:
        raise ValueError(exc.message) from exc


# Free-text search: a name or a few words; a longer `q` only costs the database a full scan per byte.
SearchText = Annotated[
    str | None,
    Query(max_length=MAX_QUERY_TEXT, title="搜索关键词", description="按名称等关键词搜索"),
    AfterValidator(_query_text),
]
MAX_TOWN_QUERY = 64
TownQuery = Annotated[
    str | None,
    Query(max_length=MAX_TOWN_QUERY, title="镇街", description="镇街"),
    AfterValidator(_query_text),
]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_engine_dep(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="未登录或登录已过期",
        headers={"WWW-Authenticate": "Bearer"},
    )


# Whose live session a token names, kept a few seconds: every request needs it, and loading it costs a
# database round trip (one query: session row and user) and a thread-pool hop. Logout, a password change
# or reset and disabling drop the entries here at once (`forget_session`, `forget_user`); other web
# processes notice within USER_TTL. Locked: a TTLCache evicts on read, and each event loop thread
# (several under TestClient) touches it.
USER_TTL = 5.0
_users: TTLCache[tuple[int, str], User] = TTLCache(maxsize=4096, ttl=USER_TTL)
_users_lock = threading.Lock()


def _load_user(engine: Engine, sid: str, user_id: int) -> User | None:
    with Session(engine, expire_on_commit=False) as session:
        return live_session_user(session, sid=sid, user_id=user_id, purpose="api", now=utcnow())


async def get_current_user(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
    if not token:
        raise _unauthorized()
    claims = read_claims(token)
    if claims is None:
        raise _unauthorized()
    engine = request.app.state.engine
    key = (id(engine), claims.sid)
    with _users_lock:
        user = _users.get(key)
    if user is None or user.id != claims.user_id:
        user = await run_in_threadpool(_load_user, engine, claims.sid, claims.user_id)
        if user is not None:
            with _users_lock:
                _users[key] = user
    if user is None or not user.active:
        raise _unauthorized()
    if user.must_change_password:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=MUST_CHANGE_PASSWORD)
    return user


# After an admin's reset, a user's tokens (old or new) open nothing until they pick their own password.
MUST_CHANGE_PASSWORD = (
    "请先修改密码：管理员已重置您的密码，请登录网页修改，或调用 POST /api/v1/auth/password 设置新密码"
)


def forget_user(user_id: int) -> None:
    """Drop a changed account from the token cache at once (disabled, reset, role changed): in this
    process; other web processes notice within USER_TTL."""
    with _users_lock:
        for key in [k for k, u in _users.items() if u.id == user_id]:
            _users.pop(key, None)


def forget_session(sid: str) -> None:
    """Drop a revoked session (logout) from the token cache at once."""
    with _users_lock:
        for key in [k for k in _users if k[1] == sid]:
            _users.pop(key, None)


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role):
    allowed = {r.value for r in roles}

    async def check(user: CurrentUser) -> User:  # no I/O: runs on the event loop, no thread hop
        if user.role not in allowed:
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="当前角色无权执行此操作")
        return user

    return check


StaffUser = Annotated[User, Depends(require_roles(*STAFF))]
LeaderUser = Annotated[User, Depends(require_roles(*LEADERS))]


async def _closer(user: CurrentUser) -> User:
    # 结案: staff decide; the center's director (a level-1 leader) may close over a missing 卷宗 item
    # (flows/closing.close_case checks the reason). Other leaders are refused here, before the body.
    if user.role in STAFF or is_director(user):
        return user
    raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="当前角色无权执行此操作")


CloserUser = Annotated[User, Depends(_closer)]
AdminUser = Annotated[User, Depends(require_roles(*ADMIN))]
# Anyone who may read the backlog (staff too: the work queue is built from it).
BacklogReader = Annotated[User, Depends(require_roles(*BACKLOG))]


def case_filters(
    stage: Annotated[Stage | None, Query(title="阶段")] = None,
    category: Annotated[Category | None, Query(title="纠纷类别")] = None,
    town: TownQuery = None,
    overdue: bool | None = None,
    escalation_level: Annotated[int | None, Query(ge=0, le=3, title="督办层级")] = None,
    q: SearchText = None,
    flagged: bool | None = None,
    mine: bool = False,
) -> CaseFilters:
    """The case list's query parameters, declared once for `GET /cases` and `GET /ledger`."""
    return CaseFilters(
        stage=stage,
        category=category,
        town=town,
        overdue=overdue,
        escalation_level=escalation_level,
        q=q,
        flagged=flagged,
        mine=mine,
    )


CaseFiltersDep = Annotated[CaseFilters, Depends(case_filters)]


def _lenient_text(value: str | None, limit: int) -> str | None:
    try:
        return clean_text(value or "", multiline=False)[:limit] or None
    except ValidationError:
        return None


def case_filters_from_query(params: Mapping[str, str]) -> CaseFilters:
    """The same filters read from a page's query string, where a value that names nothing is dropped
    rather than refused (a bookmarked or hand-edited link still shows the list)."""
    stage = params.get("stage") or None
    category = params.get("category") or None
    return case_filters(
        stage=Stage(stage) if stage in set(Stage) else None,
        category=Category(category) if category in set(Category) else None,
        town=_lenient_text(params.get("town"), MAX_TOWN_QUERY),
        overdue={"1": True, "0": False}.get(params.get("overdue") or ""),
        q=_lenient_text(params.get("q"), MAX_QUERY_TEXT),
    )
