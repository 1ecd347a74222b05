"""Running the flows: an outbox in our database, relayed to Prefect.

A human action records its input and a `ProcessRun` row (the outbox) in one transaction and returns.
After the commit the run is relayed:
- embedded mode (no PREFECT_API_URL): a background thread of `tiaojie serve` runs the Prefect flow
  in-process; tests call `drain()` to run what is pending, synchronously;
- server mode: `run_deployment(..., timeout=0)` hands it to the workers and returns at once.
A run left pending (Prefect down, process killed) is relayed again by the next relay pass, so losing
Prefect's database loses no case and stops none. The key (case + stage + subject) makes every run,
and so every document, notification and escalation it produces, happen once.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.case import Case
from models.db import engine_for_flows, get_engine, insert_ignore, session_scope, table_of, utcnow
from models.process_run import ProcessRun

log = logging.getLogger("tiaojie.dispatch")
MAX_ATTEMPTS = 3


def enqueue(
    session: Session, *, flow: str, key: str, case_id: int | None, params: dict | None = None
) -> None:
    """Record that `flow` must run for `key` (in the caller's transaction). A known key is a no-op."""
    insert_ignore(
        session,
        table_of(ProcessRun),
        dict(
            key=key,
            flow=flow,
            case_id=case_id,
            params=params or {},
            status="pending",
            attempts=0,
            created_at=utcnow(),
        ),
    )


def server_mode() -> bool:
    return bool(os.environ.get("PREFECT_API_URL"))


def _flow_object(name: str):  # noqa: ANN202
    from flows.registry import FLOWS

    return FLOWS[name]


def mark(
    engine: Engine, key: str, *, status: str, error: str | None = None, prefect_id: str | None = None
) -> None:
    with session_scope(engine) as session:
        values: dict[str, Any] = {"status": status}
        if status in ("completed", "failed"):
            values["finished_at"] = utcnow()
        if error is not None:
            values["last_error"] = error[-4000:]
        if prefect_id is not None:
            values["prefect_flow_run_id"] = prefect_id
        session.exec(update(ProcessRun).where(col(ProcessRun.key) == key).values(**values))


def flag_failed_run(engine: Engine, key: str, error: str) -> None:
    """The flow failed after its retries: keep every input, flag the case for a person to look at."""
    with session_scope(engine, write=True) as session:
        run = session.exec(select(ProcessRun).where(ProcessRun.key == key)).one()
        if run.status == "failed":
            return  # the flow's own failure hook got here first
        run.status = "failed"
        run.finished_at = utcnow()
        run.last_error = error[-4000:]
        session.add(run)
        if run.case_id is not None:
            case = session.get(Case, run.case_id)
            if case is not None:
                reason = (
                    f"自动流程“{run.flow}”多次重试后仍失败，请人工处理（已保存全部录入内容）："
                    f"{error.splitlines()[-1][:200] if error else ''}"
                )
                # A system flag, not an edit: no version bump.
                session.execute(
                    update(table_of(Case))
                    .where(table_of(Case).c.id == case.id)
                    .values(flagged=True, flag_reason=reason)
                )
                from models.audit import record

                record(
                    session,
                    actor_id=None,
                    actor_name="system",
                    action="case.flag",
                    entity="case",
                    entity_id=case.id,
                    case_id=case.id,
                    after={"flow": run.flow, "key": key},
                )


def requeue_failed(engine: Engine, case_id: int, *, actor_name: str = "system") -> int:
    """Staff asked to run a case's failed flows again (after the cause was fixed): clear the flag;
    a new failure flags it again."""
    from models.audit import record

    with session_scope(engine, write=True) as session:
        runs = session.exec(
            select(ProcessRun).where(ProcessRun.case_id == case_id, ProcessRun.status == "failed")
        ).all()
        for run in runs:
            run.status = "retry"
            run.attempts = 0
            session.add(run)
        case = session.get(Case, case_id)
        if runs and case is not None and case.flagged and (case.flag_reason or "").startswith("自动流程"):
            session.execute(
                update(table_of(Case))
                .where(table_of(Case).c.id == case_id)
                .values(flagged=False, flag_reason=None)
            )
        if runs:
            record(
                session,
                actor_id=None,
                actor_name=actor_name,
                action="case.flows_retry",
                entity="case",
                entity_id=case_id,
                case_id=case_id,
                after={"runs": [r.key for r in runs]},
            )
        return len(runs)


def execute(engine: Engine, key: str) -> bool:
    """Run one pending flow in this process. True when it completed."""
    with Session(engine) as session:
        run = session.exec(select(ProcessRun).where(ProcessRun.key == key)).first()
        if run is None or run.status == "completed":
            return True
        flow_name = run.flow
        claimed = session.exec(
            update(ProcessRun)
            .where(col(ProcessRun.key) == key, col(ProcessRun.status).in_(("pending", "retry")))
            .values(status="running", attempts=ProcessRun.attempts + 1)
        ).rowcount
        session.commit()
        if not claimed:
            return False
    flow_obj = _flow_object(flow_name)
    try:
        with engine_for_flows(engine):
            if flow_obj.isasync:
                _run_coroutine(flow_obj(key=key))
            else:  # a flow with nothing to await is a plain function: calling it runs it
                flow_obj(key=key)
    except Exception:
        flag_failed_run(engine, key, traceback.format_exc())
        return False
    mark(engine, key, status="completed")
    return True


_loop_local = threading.local()


_side_thread: ThreadPoolExecutor | None = None


def _run_coroutine(coro):  # noqa: ANN001, ANN202
    """Run a flow's coroutine to completion from synchronous code."""
    global _side_thread
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_in_this_thread(coro)
    # This thread already runs an event loop (an async caller, Playwright's sync API in tests): run the
    # flow on a side thread of our own, with this context (the flow's database goes along).
    if _side_thread is None:
        _side_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiaojie-flow")
    context = contextvars.copy_context()
    return _side_thread.submit(context.run, _run_in_this_thread, coro).result()


def _run_in_this_thread(coro):  # noqa: ANN001, ANN202
    # One event loop per thread, kept: Prefect's client caches connections per loop.
    loop = getattr(_loop_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loop_local.loop = loop
    return loop.run_until_complete(coro)


def pending_keys(
    engine: Engine,
    *,
    limit: int = 100,
    stale_after: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
) -> list[str]:
    now = now or utcnow()
    with Session(engine) as session:
        # A run marked running long ago belongs to a process that died: run it again (it is idempotent).
        session.exec(
            update(ProcessRun)
            .where(
                col(ProcessRun.status).in_(("running", "dispatched")),
                col(ProcessRun.created_at) < now - stale_after,
                col(ProcessRun.finished_at).is_(None),
                col(ProcessRun.attempts) < MAX_ATTEMPTS,
            )
            .values(status="retry")
        )
        session.commit()
        rows = session.exec(
            select(ProcessRun.key)
            .where(col(ProcessRun.status).in_(("pending", "retry")))
            .order_by(col(ProcessRun.id))
            .limit(limit)
        ).all()
    return list(rows)


def run_status(engine: Engine, key: str) -> str | None:
    with Session(engine) as session:
        return session.exec(select(ProcessRun.status).where(ProcessRun.key == key)).first()


def drain(engine: Engine | None = None, *, max_rounds: int = 50) -> int:
    """Run every pending flow now, in this thread (tests, CLI). Returns how many ran."""
    engine = engine or get_engine()
    count = 0
    for _ in range(max_rounds):
        keys = pending_keys(engine)
        if not keys:
            break
        for key in keys:
            execute(engine, key)
            count += 1
    return count


def dispatch_to_server(engine: Engine, key: str) -> None:
    """Server mode: hand the run to a deployment; never wait for a worker."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    with Session(engine) as session:
        run = session.exec(select(ProcessRun).where(ProcessRun.key == key)).one()
        flow_name = run.flow
    try:
        name = _flow_object(flow_name).name  # deployments are named after their flow (flows/serve.py)
        flow_run = run_deployment(f"{name}/{name}", parameters={"key": key}, timeout=0)
        # Called from sync code, Prefect's dispatcher returns the FlowRun itself, not a coroutine.
        assert isinstance(flow_run, FlowRun)
    except Exception as exc:  # Prefect unreachable: leave it pending, the next relay pass retries
        log.warning("dispatch of %s failed: %r", key, exc)
        return
    mark(engine, key, status="dispatched", prefect_id=str(flow_run.id))


class Relay:
    """Background thread: runs (embedded) or hands over (server mode) what the outbox holds."""

    def __init__(self, engine: Engine, *, interval: float = 2.0) -> None:
        self.engine = engine
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        # Set once Prefect is usable in this process: the scheduler waits for it, so two threads never
        # start Prefect's temporary server (and migrate its database) at the same time.
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tiaojie-relay", daemon=True)

    def start(self) -> Relay:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.thread.join(timeout=10)

    def notify(self) -> None:
        self._wake.set()

    def wait_for(self, key: str, timeout: float) -> bool:
        """Wait until `key` has run (embedded mode): used where the user expects the PDF at once."""
        with self._lock:
            event = self._done.setdefault(key, threading.Event())
        if run_status(self.engine, key) in ("completed", "failed"):
            return True
        self.notify()
        return event.wait(timeout)

    def _warm_up(self) -> None:
        if not server_mode():
            from flows.registry import warm_up

            try:
                _run_coroutine(warm_up())
            except Exception:  # the first real flow will report what is wrong
                log.exception("Prefect warm-up failed")
        self.ready.set()

    def _loop(self) -> None:
        self._warm_up()
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                for key in pending_keys(self.engine):
                    if self._stop.is_set():
                        break
                    if server_mode():
                        dispatch_to_server(self.engine, key)
                    else:
                        execute(self.engine, key)
                    with self._lock:
                        event = self._done.pop(key, None)
                    if event:
                        event.set()
            except Exception:  # the relay must outlive a bad run or a database hiccup
                log.exception("relay pass failed")


_relay: Relay | None = None


def set_relay(relay: Relay | None) -> None:
    global _relay
    _relay = relay


def after_commit() -> None:
    """Called by the API after a human action committed: wake the relay."""
    if _relay is not None:
        _relay.notify()


def wait_for(key: str, timeout: float = 15.0) -> bool:
    if _relay is None or server_mode():
        return False
    return _relay.wait_for(key, timeout)
