"""The `Idempotency-Key` header on the JSON routes that create something (models/idempotency.py keeps
the keys).

A creating route opts in with `dependencies=[IDEMPOTENT]` (declares the header in OpenAPI, claims the
key once the user is known) on a router whose `route_class=IdempotentRoute` (sees the route's actual
answer: stores a successful one for replay, frees the key otherwise). A replay answers the stored
status and body with `Idempotent-Replayed: true` and runs nothing."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, NamedTuple

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentUser
from models.db import id_of, session_scope, utcnow
from models.idempotency import (
    MAX_KEY_LENGTH,
    KeyInFlight,
    KeyReused,
    StoredAnswer,
    claim,
    complete,
    purge,
    release,
)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
PURGE_EVERY = 600.0  # seconds between opportunistic purges of expired keys, per process

_last_purge = 0.0
_purge_lock = threading.Lock()


class _Replay(Exception):
    """Raised by the dependency when the key was answered before: the route is not run."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__("idempotent replay")
        self.answer = answer


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key was first used for: method, path and the body (JSON compared by content, so
    key order and spacing do not matter)."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class _Claim(NamedTuple):
    """The key a request holds while its route runs (request.state.idempotency)."""

    engine: Engine
    user_id: int
    key: str


def _claim_and_purge(engine: Engine, user_id: int, key: str, print_: str) -> StoredAnswer | None:
    global _last_purge
    now = utcnow()
    answer = claim(engine, user_id=user_id, key=key, fingerprint=print_, now=now)
    with _purge_lock:
        due = time.monotonic() - _last_purge > PURGE_EVERY
        if due:
            _last_purge = time.monotonic()
    if due:
        with session_scope(engine, write=True) as session:
            purge(session, now=now)
    return answer


async def idempotency_key(
    request: Request,
    user: CurrentUser,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            description=(
                "幂等键（可选，建议用 UUID）：网络中断后以同一键、同一内容重试，返回首次的结果"
                "（响应头 Idempotent-Replayed: true），不会重复创建；同一键内容不同返回 422，"
                "首次请求尚在处理时返回 409。保留 24 小时，按用户区分。"
            ),
        ),
    ] = None,
) -> None:
    if key is None:
        return
    print_ = fingerprint(request.method, request.url.path, await request.body())
    engine = request.app.state.engine
    try:
        answer = await run_in_threadpool(_claim_and_purge, engine, id_of(user), key, print_)
    except KeyReused as exc:
        raise HTTPException(
            status_code=422, detail=[{"loc": ["header", HEADER], "msg": exc.message, "type": "value_error"}]
        ) from exc
    except KeyInFlight as exc:
        raise HTTPException(status_code=409, detail=exc.message) from exc
    if answer is not None:
        raise _Replay(answer)
    request.state.idempotency = _Claim(engine, id_of(user), key)


IDEMPOTENT = Depends(idempotency_key)


def _finish(claimed: _Claim, answer: StoredAnswer | None) -> None:
    with session_scope(claimed.engine, write=True) as session:
        if answer is None:
            release(session, user_id=claimed.user_id, key=claimed.key)
        else:
            complete(session, user_id=claimed.user_id, key=claimed.key, answer=answer, now=utcnow())


class IdempotentRoute(APIRoute):
    """Routes of a router that has idempotent routes: replays, and stores or frees the claimed key."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except _Replay as replay:
                stored = replay.answer
                return Response(
                    content=stored.body,
                    status_code=stored.status_code,
                    media_type=stored.content_type,
                    headers={REPLAYED: "true"},
                )
            except BaseException:
                claimed: _Claim | None = getattr(request.state, "idempotency", None)
                if claimed is not None:
                    # Refused, invalid or failed: nothing was created, a retry may use the key again.
                    await run_in_threadpool(_finish, claimed, None)
                raise
            claimed = getattr(request.state, "idempotency", None)
            if claimed is not None:
                body = getattr(response, "body", None)
                answer = None
                if 200 <= response.status_code < 300 and isinstance(body, bytes):
                    answer = StoredAnswer(response.status_code, response.headers.get("content-type"), body)
                await run_in_threadpool(_finish, claimed, answer)
            return response

        return route_handler
