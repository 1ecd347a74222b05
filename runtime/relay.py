"""Running the flows: the outbox in our database (models/outbox.py), taken by a relay that runs each
Prefect flow in-process.

A human action records its input and a `ProcessRun` row (the outbox) in one transaction and returns.
A `Relay` (a few threads) then claims the run from the database (claim_next: FOR UPDATE SKIP LOCKED on
PostgreSQL), holds a lease on it renewed by a heartbeat, and runs the flow in its own process:
- embedded mode (no PREFECT_API_URL given): the relay is part of `tiaojie serve`, woken by every action;
  the Prefect API `tiaojie serve` runs in its own process (runtime.prefect_env) records the runs; tests
  call `drain()` to run what is pending;
- server mode (PREFECT_API_URL set): the relay is `tiaojie worker`, on as many machines as needed, all
  claiming from the shared database (polled every TIAOJIE_WORKER_POLL_SECONDS, an indexed read); each flow
  runs in the worker's process and reports to the Prefect server (a flow run there, with its retries and
  states). `tiaojie serve` only commits the outbox row. No run goes through a Prefect deployment: the
  runner's fresh Python process per run cost seconds each (bench/README.md section 9).
A run whose holder died (lease run out) is claimed again, so losing Prefect's database or a worker loses no
case and stops none. The key (case + stage + subject) makes every run, and so every document, notification
and escalation it produces, happen once.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from prefect.client.schemas.objects import FlowRun
from prefect.states import Completed, Failed
from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows.registry import FLOWS, SCHEDULED, warm_up
from models.db import engine_for_flows, get_engine, session_scope, table_of, utcnow
from models.outbox import RUNNABLE, flag_failed_run, mark, run_status
from models.process_run import ProcessRun
from runtime.memory import release_free_memory
from runtime.prefect_env import api_url, embedded_api_url, wait_for_api, wait_for_embedded_server
from runtime.sender import wake

log = logging.getLogger("tiaojie.dispatch")
MAX_ATTEMPTS = 3
# A running run's lease and how often its holder renews it: a killed relay's runs are taken up again
# within LEASE of its death, and a live one misses two beats before it loses a run.
LEASE = timedelta(seconds=30)
HEARTBEAT_SECONDS = 10.0
# The relay's workers wait for the poller's wake-up; on their own they look this many intervals apart.
IDLE_POLL_FACTOR = 5
RECLAIM_SECONDS = 5.0
# Runs claimed without a lease (before migration 0013): reclaimed this long after their creation.
STALE_AFTER = timedelta(minutes=10)


def server_mode() -> bool:
    """PREFECT_API_URL names the operator's Prefect server; once the API of embedded mode runs in this
    process, PREFECT_API_URL names that one (runtime.prefect_env), which is still embedded mode."""
    url = os.environ.get("PREFECT_API_URL")
    return bool(url) and url != embedded_api_url()


def _flow_object(name: str):
    return FLOWS[name] if name in FLOWS else SCHEDULED[name][0]


def _flow_kwargs(run: ProcessRun) -> dict[str, Any]:
    """An event flow takes its outbox key; a scheduled job (queued by `tiaojie worker`, runtime/serve.py)
    the cron time it stands for."""
    if run.flow in SCHEDULED:
        return {"now_iso": run.params["now_iso"]}
    return {"key": run.key}


def _machine_tag() -> str:
    """This boot of this machine and this PID namespace, hashed: within both, a pid and its start time
    name one process. Empty where /proc does not tell (then only leases decide)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return hashlib.sha256(f"{boot}/{namespace}".encode()).hexdigest()[:12]


def _process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks after boot), or None when no such process runs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]  # fields[0] is field 3 (state), [19] field 22


_MACHINE = _machine_tag()


def relay_owner() -> str:
    """Who holds a claimed run: this host and process (pid, machine tag, start time: see holder_is_dead),
    plus a random part (two relays in one process)."""
    host, pid = socket.gethostname()[:30], os.getpid()
    if _MACHINE:
        return f"{host}:{pid}:{_MACHINE}:{_process_start(pid)}:{uuid.uuid4().hex[:6]}"
    return f"{host}:{pid}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(owner: str) -> bool:
    """The process that claimed a run is gone for sure: it ran on this machine, in this PID namespace,
    and no process with its pid and start time runs now (kill -9 of `tiaojie serve`, then a restart).
    Anything else — another machine or container, an older owner format — is left to its lease."""
    parts = owner.split(":")
    if not _MACHINE or len(parts) != 5 or parts[2] != _MACHINE or not parts[1].isdigit():
        return False
    return _process_start(int(parts[1])) != parts[3]


_default_owner = relay_owner()


def _lease_values(owner: str, until: datetime) -> dict[str, Any]:
    return dict(status="running", claimed_by=owner, lease_until=until, attempts=ProcessRun.attempts + 1)


def claim(
    engine: Engine, key: str, *, owner: str, now: datetime | None = None, lease: timedelta = LEASE
) -> bool:
    """Take `key` for `owner` if it is waiting to run. Atomic: of several relays one gets it."""
    now = now or utcnow()
    with session_scope(engine, write=True) as session:
        claimed = session.exec(
            update(ProcessRun)
            .where(col(ProcessRun.key) == key, col(ProcessRun.status).in_(RUNNABLE))
            .values(**_lease_values(owner, now + lease))
        ).rowcount
    return bool(claimed)


def claim_next(
    engine: Engine, *, owner: str, now: datetime | None = None, lease: timedelta = LEASE
) -> str | None:
    """Take the oldest run waiting to run, or None. Several relay workers, in one process or several,
    never take the same run: one UPDATE ... WHERE status is runnable, of a row picked with FOR UPDATE SKIP
    LOCKED on PostgreSQL (a worker skips what another is taking instead of queueing behind it); on SQLite
    the write lock taken at BEGIN (IMMEDIATE) serialises the claims."""
    now = now or utcnow()
    with Session(engine) as session:  # a plain read first: an idle poll takes no write lock
        if (
            session.exec(select(ProcessRun.id).where(col(ProcessRun.status).in_(RUNNABLE)).limit(1)).first()
            is None
        ):
            return None
    oldest = (
        select(ProcessRun.id)
        .where(col(ProcessRun.status).in_(RUNNABLE))
        .order_by(col(ProcessRun.id))
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    with session_scope(engine, write=True) as session:
        key = session.execute(
            update(table_of(ProcessRun))
            .where(table_of(ProcessRun).c.id == oldest, table_of(ProcessRun).c.status.in_(RUNNABLE))
            .values(**_lease_values(owner, now + lease))
            .returning(table_of(ProcessRun).c.key)
        ).scalar_one_or_none()
    return key


def renew_lease(
    engine: Engine, key: str, *, owner: str, now: datetime | None = None, lease: timedelta = LEASE
) -> bool:
    """The heartbeat: extend `owner`'s lease on a run it still holds. False when it lost the run."""
    now = now or utcnow()
    with session_scope(engine) as session:
        renewed = session.exec(
            update(ProcessRun)
            .where(
                col(ProcessRun.key) == key,
                col(ProcessRun.claimed_by) == owner,
                col(ProcessRun.status) == "running",
            )
            .values(lease_until=now + lease)
        ).rowcount
    return bool(renewed)


class Heartbeat:
    """While a run executes, renew its lease every `interval` seconds (a thread): the lease outlives
    a slow flow, but not the process that holds it."""

    def __init__(
        self,
        engine: Engine,
        key: str,
        *,
        owner: str,
        lease: timedelta = LEASE,
        interval: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.engine, self.key, self.owner, self.lease, self.interval = engine, key, owner, lease, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"tiaojie-heartbeat-{key}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not renew_lease(self.engine, self.key, owner=self.owner, lease=self.lease):
                    return  # finished, or reclaimed by another relay: nothing left to hold
            except Exception:  # a database hiccup: try again at the next beat
                log.warning("heartbeat of %s failed", self.key, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)


def api_retry_delays() -> list[float]:
    """Seconds to wait before each new attempt at a flow run that Prefect's API failed to create or
    report (TIAOJIE_PREFECT_API_RETRY_DELAYS, default 2,5,10,20: five attempts over about 40 s, beyond
    the retries of each request by Prefect's own client); tests shorten them."""
    raw = os.environ.get("TIAOJIE_PREFECT_API_RETRY_DELAYS", "2,5,10,20")
    try:
        return [max(0.0, float(x)) for x in raw.split(",") if x.strip()]
    except ValueError:
        return [2.0, 5.0, 10.0, 20.0]


def is_transient_api_error(exc: BaseException) -> bool:
    """Prefect's API failed for a moment, not the flow: an HTTP 5xx answer, or no answer (connection
    refused or dropped, a timeout). Prefect's client raises these from the engine itself, never from a
    flow's steps, whose exceptions end in the flow run's state."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError))


def inline_runs() -> bool:
    """TIAOJIE_FLOW_RUNNER=inline: the relay calls each flow's function itself, with the flow's retries,
    instead of through Prefect's engine — no flow run is recorded in Prefect. For the test suite, whose
    subject is what a flow does (the engine's own tests run it through Prefect); never for production,
    where the flow run is what operators watch."""
    return os.environ.get("TIAOJIE_FLOW_RUNNER", "prefect") == "inline"


class _InlineState:
    """What `execute` reads from a Prefect state, for a flow run inline."""

    def __init__(self, error: BaseException | None, runs: int) -> None:
        self.error, self.runs = error, runs
        self.state_details = SimpleNamespace(flow_run_id=None)  # no Prefect flow run inline
        self.message = repr(error) if error else None
        self.name = "Failed" if error else "Completed"

    def is_completed(self) -> bool:
        return self.error is None

    def is_failed(self) -> bool:
        return self.error is not None

    def result(self) -> None:
        if self.error is not None:
            raise self.error


def _run_inline(flow_obj: Any, kwargs: dict[str, Any]) -> _InlineState:
    """The flow's function with its retries, then its completion or failure hooks, as Prefect would."""
    runs = (flow_obj.retries or 0) + 1
    for attempt in range(1, runs + 1):
        try:
            if flow_obj.isasync:
                _run_coroutine(flow_obj.fn(**kwargs))
            else:
                flow_obj.fn(**kwargs)
        except Exception as exc:
            if attempt < runs:
                time.sleep(float(flow_obj.retry_delay_seconds or 0))
                continue
            flow_run = FlowRun(flow_id=uuid.uuid4(), parameters=kwargs, run_count=attempt)
            for hook in flow_obj.on_failure_hooks:
                hook(flow_obj, flow_run, Failed(message=repr(exc)))
            return _InlineState(exc, attempt)
        flow_run = FlowRun(flow_id=uuid.uuid4(), parameters=kwargs, run_count=attempt)
        for hook in flow_obj.on_completion_hooks:
            hook(flow_obj, flow_run, Completed())
        return _InlineState(None, attempt)
    raise AssertionError("unreachable")


def _run_flow(flow_obj: Any, kwargs: dict[str, Any]) -> Any:
    if inline_runs():
        return _run_inline(flow_obj, kwargs)
    if flow_obj.isasync:
        return _run_coroutine(flow_obj(**kwargs, return_state=True))
    return flow_obj(**kwargs, return_state=True)  # a flow with nothing to await runs when called


class _ApiUnavailable(Exception):
    """Prefect's API kept failing: every attempt at the flow run was made."""

    def __init__(self, attempts: int) -> None:
        super().__init__(attempts)
        self.attempts = attempts


def run_with_api_retries(
    flow_obj: Any, kwargs: dict[str, Any], key: str, *, stop: threading.Event | None
) -> Any:
    """Run the flow; when Prefect's API fails transiently, run it again after a pause (its steps are
    idempotent by key, so a flow that ran before its report was lost does nothing twice)."""
    delays = api_retry_delays()
    for attempt in range(1, len(delays) + 2):
        try:
            return _run_flow(flow_obj, kwargs)
        except Exception as exc:
            if not is_transient_api_error(exc):
                raise
            if attempt > len(delays):
                raise _ApiUnavailable(attempt) from exc
            log.warning(
                "Prefect's API failed on %s (attempt %d of %d): %s; again in %.1f s",
                key,
                attempt,
                len(delays) + 1,
                exc,
                delays[attempt - 1],
            )
            if stop is not None and stop.wait(delays[attempt - 1]):
                raise _ApiUnavailable(attempt) from exc
            if stop is None:
                time.sleep(delays[attempt - 1])
    raise AssertionError("unreachable")


def execute(
    engine: Engine,
    key: str,
    *,
    owner: str | None = None,
    lease: timedelta = LEASE,
    heartbeat: float = HEARTBEAT_SECONDS,
    claimed: bool = False,
    stop: threading.Event | None = None,
) -> bool:
    """Run one pending flow in this process, holding a lease on it while it runs. True when it completed.
    `claimed`: the caller has already claimed it (claim_next). `stop`: set when the relay stops, which
    ends a wait between attempts (the run is left to its lease, for the next start)."""
    owner = owner or _default_owner
    with Session(engine) as session:
        run = session.exec(select(ProcessRun).where(ProcessRun.key == key)).first()
        if run is None or (run.status == "completed" and not claimed):
            return True
        flow_name, kwargs = run.flow, _flow_kwargs(run)
    if not claimed and not claim(engine, key, owner=owner, lease=lease):
        return False
    flow_obj = _flow_object(flow_name)
    flow_run_id = None
    ran = 1  # runs of the flow Prefect made: 1, or all its retries when it ends failed
    try:
        with Heartbeat(engine, key, owner=owner, lease=lease, interval=heartbeat), engine_for_flows(engine):
            state = run_with_api_retries(flow_obj, kwargs, key, stop=stop)
            flow_run_id = state.state_details.flow_run_id
            if not state.is_completed():
                # Prefect ends a flow run Failed only once its retries are spent.
                ran = (flow_obj.retries or 0) + 1 if state.is_failed() else 1
                state.result()  # raises the flow's own exception (its traceback goes into last_error)
                raise RuntimeError(state.message or state.name)
    except _ApiUnavailable as exc:
        if stop is not None and stop.is_set():
            return False  # stopping: the run is left to its lease and taken up again after the restart
        cause = "".join(traceback.format_exception(exc.__cause__ or exc))
        flag_failed_run(engine, key, cause, attempts=exc.attempts, api_down=True)
        return False
    except Exception:
        _record_flow_run(engine, key, flow_run_id)
        # Usually a no-op: the flow's failure hook has flagged it already.
        flag_failed_run(engine, key, traceback.format_exc(), attempts=ran)
        return False
    mark(engine, key, status="completed", prefect_id=str(flow_run_id) if flow_run_id else None)
    return True


def _record_flow_run(engine: Engine, key: str, flow_run_id: uuid.UUID | None) -> None:
    """Which Prefect flow run ran it (operators look it up on the Prefect server)."""
    if flow_run_id is not None:
        with session_scope(engine) as session:
            session.exec(
                update(ProcessRun)
                .where(col(ProcessRun.key) == key)
                .values(prefect_flow_run_id=str(flow_run_id))
            )


_loop_local = threading.local()


_side_thread: ThreadPoolExecutor | None = None


def _run_coroutine(coro):
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


def _run_in_this_thread(coro):
    # One event loop per thread, kept: Prefect's client caches connections per loop.
    loop = getattr(_loop_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loop_local.loop = loop
    return loop.run_until_complete(coro)


def reclaim_expired(
    engine: Engine, *, now: datetime | None = None, stale_after: timedelta = STALE_AFTER
) -> int:
    """Runs whose holder stopped renewing its lease (the process was killed, the machine lost) wait again:
    the next claim takes them at once. A run that lost its holder MAX_ATTEMPTS times is flagged instead,
    for a person to look at (it may be what kills the process). Returns how many were reclaimed."""
    now = now or utcnow()
    with Session(engine) as session:  # plain reads first: the relay's every pass takes no write lock
        holders = session.exec(
            select(ProcessRun.claimed_by)
            .where(col(ProcessRun.status) == "running", col(ProcessRun.claimed_by).is_not(None))
            .distinct()
        ).all()
    # A holder known to be dead (killed on this machine) loses its runs at once, not when its lease ends.
    dead = [owner for owner in holders if owner and holder_is_dead(owner)]
    expired = and_(
        # "dispatched": handed to a Prefect deployment by an older version, never reported back.
        col(ProcessRun.status).in_(("running", "dispatched")),
        col(ProcessRun.finished_at).is_(None),
        or_(
            col(ProcessRun.lease_until) < now,
            col(ProcessRun.claimed_by).in_(dead),
            # Claimed before leases existed (or by an older version): the old rule, counted from creation.
            and_(col(ProcessRun.lease_until).is_(None), col(ProcessRun.created_at) < now - stale_after),
        ),
    )
    with Session(engine) as session:
        if session.exec(select(ProcessRun.id).where(expired).limit(1)).first() is None:
            return 0
    with session_scope(engine, write=True) as session:
        reclaimed = session.exec(
            update(ProcessRun)
            .where(expired, col(ProcessRun.attempts) < MAX_ATTEMPTS)
            .values(status="retry", claimed_by=None, lease_until=None)
        ).rowcount
        given_up = session.exec(
            select(ProcessRun.key).where(expired, col(ProcessRun.attempts) >= MAX_ATTEMPTS)
        ).all()
    for key in given_up:
        flag_failed_run(engine, key, f"进程在运行中中断 {MAX_ATTEMPTS} 次", attempts=MAX_ATTEMPTS)
    return reclaimed or 0


def pending_keys(
    engine: Engine,
    *,
    limit: int = 100,
    stale_after: timedelta = STALE_AFTER,
    now: datetime | None = None,
) -> list[str]:
    now = now or utcnow()
    reclaim_expired(engine, now=now, stale_after=stale_after)
    with Session(engine) as session:
        rows = session.exec(
            select(ProcessRun.key)
            .where(col(ProcessRun.status).in_(RUNNABLE))
            .order_by(col(ProcessRun.id))
            .limit(limit)
        ).all()
    return list(rows)


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


# Bold title, body text and a rare character: the fonts every document needs (BabelStone Han included).
_WARM_UP_HTML = "<h1>调解</h1><p>受理 \U00020000</p><table><tr><td>一</td></tr></table>"


def worker_poll_seconds() -> float:
    """How often each relay thread of `tiaojie worker` looks for runs in the outbox
    (TIAOJIE_WORKER_POLL_SECONDS, default 0.5): the pick-up delay in server mode, where no action in
    this process wakes it. An idle poll is one indexed read."""
    try:
        return max(0.05, float(os.environ.get("TIAOJIE_WORKER_POLL_SECONDS", "0.5")))
    except ValueError:
        return 0.5


def relay_workers() -> int:
    """How many runs the relay works on at once (TIAOJIE_RELAY_WORKERS, default 4)."""
    try:
        return max(1, int(os.environ.get("TIAOJIE_RELAY_WORKERS", "4")))
    except ValueError:
        return 4


class Relay:
    """A small pool of threads that run what the outbox holds, in this process (`tiaojie serve` in
    embedded mode, `tiaojie worker` in server mode).

    Each worker claims the oldest waiting run (claim_next) and holds a lease on it, renewed by a
    heartbeat while it runs; a poller thread wakes the workers when runs wait and reclaims the runs
    whose lease ran out (a relay that was killed), so they run again within seconds, not minutes."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = 1.0,
        workers: int | None = None,
        lease: timedelta = LEASE,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.lease = lease
        self.heartbeat = heartbeat
        self.owner = relay_owner()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        # Set once Prefect is usable in this process: the scheduler and the other workers wait for it, so
        # no run starts before the API it reports to answers.
        self.ready = threading.Event()
        self._prefect_up = threading.Event()
        self._warm = 0
        count = workers or relay_workers()
        self.threads = [
            threading.Thread(target=self._loop, args=(i,), name=f"tiaojie-relay-{i}", daemon=True)
            for i in range(count)
        ]
        self.thread = self.threads[0]
        self._poller = threading.Thread(target=self._poll, name="tiaojie-relay-poll", daemon=True)

    def start(self) -> Relay:
        for thread in self.threads:
            thread.start()
        self._poller.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        # One 10 s budget for all threads, not 10 s each: a run stuck on a Prefect server that the same
        # SIGTERM already stopped (a service manager signals the whole group) is left to its lease.
        deadline = time.monotonic() + 10
        for thread in [*self.threads, self._poller]:
            if thread.is_alive():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

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

    def _warm_up(self, index: int) -> None:
        """Before the first real run: Prefect's server up (worker 0 waits for it), a no-op flow run in each
        worker's own event loop, and one small PDF rendered (fonts loaded, the big CJK ones included): the
        first action after start costs what any other does. `ready` is set when every worker is warm."""
        if not inline_runs():
            self._warm_up_prefect(index)
        if self._stop.is_set():
            return
        self._prefect_up.set()
        if index == 0:
            try:
                # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
                from documents.render import html_to_pdf
                from documents.signing import sign_pdf

                # Fonts loaded, and the signing certificate made (first start) and loaded.
                sign_pdf(html_to_pdf(_WARM_UP_HTML))
                release_free_memory()
            except Exception:  # the first document will report what is wrong
                log.exception("PDF warm-up failed")
        with self._lock:
            self._warm += 1
            if self._warm == len(self.threads):
                self.ready.set()

    def _warm_up_prefect(self, index: int) -> None:
        if index > 0:  # the first worker starts Prefect; the others then warm their own event loop
            while not self._prefect_up.wait(1):
                if self._stop.is_set():
                    return
        else:
            if not server_mode():
                wait_for_embedded_server()  # `tiaojie serve` began starting it before anything else
            # No run before Prefect's API answers (bounded): right after a restart its first answers were
            # 503s. No embedded API known: it failed to start here (logged), and the runs fail saying so.
            if (server_mode() or api_url() is not None) and not wait_for_api(stop=self._stop):
                log.warning("Prefect's API is not ready: the runs will retry until it is")
            if self._stop.is_set():
                return
        try:
            run_with_api_retries(warm_up, {}, "warm-up", stop=self._stop)
        except Exception:  # the first real flow will report what is wrong
            log.exception("Prefect warm-up failed")

    def _loop(self, index: int) -> None:
        self._warm_up(index)
        while not self._stop.is_set():
            try:
                self._drain()
            except Exception:  # the relay must outlive a bad run or a database hiccup
                log.exception("relay pass failed")
            # Woken by the poller or an action of this process; the timeout is only a safety net.
            self._wake.wait(self.interval * IDLE_POLL_FACTOR)
            self._wake.clear()

    def _poll(self) -> None:
        """One thread looks for work every `interval` (one indexed read) and wakes the workers when there
        is some: an idle relay costs one read per interval, not one per worker, and a run is picked up
        within `interval` even while some workers are busy. Leases last LEASE: it looks for expired ones
        every RECLAIM_SECONDS."""
        next_reclaim = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_reclaim:
                    reclaim_expired(self.engine)
                    next_reclaim = time.monotonic() + RECLAIM_SECONDS
                with Session(self.engine) as session:
                    waiting = session.exec(
                        select(ProcessRun.id).where(col(ProcessRun.status).in_(RUNNABLE)).limit(1)
                    ).first()
                if waiting is not None:
                    self._wake.set()
            except Exception:  # a database hiccup: the next poll tries again
                log.warning("relay poll failed", exc_info=True)
            self._stop.wait(self.interval)

    def _drain(self) -> None:
        while not self._stop.is_set():
            key = claim_next(self.engine, owner=self.owner, lease=self.lease)
            if key is None:
                return
            self._wake.set()  # there may be more: the idle workers look too
            try:
                execute(
                    self.engine,
                    key,
                    owner=self.owner,
                    lease=self.lease,
                    heartbeat=self.heartbeat,
                    claimed=True,
                    stop=self._stop,
                )
            finally:
                with self._lock:
                    event = self._done.pop(key, None)
                if event:
                    event.set()
                # The run's PDF (WeasyPrint, Pango) freed tens of MB: back to the system, not kept by malloc.
                release_free_memory()


_relay: Relay | None = None


def set_relay(relay: Relay | None) -> None:
    global _relay
    _relay = relay


def after_commit() -> None:
    """Called by the API after a human action committed: wake the relay and the message sender."""
    if _relay is not None:
        _relay.notify()
    wake()


def wait_for(key: str, timeout: float = 15.0) -> bool:
    if _relay is None or server_mode():
        return False
    return _relay.wait_for(key, timeout)
