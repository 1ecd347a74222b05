"""Running the flows: threads of `tiaojie serve` (embedded mode) or of `tiaojie worker` (server mode).

Both run the outbox relay (runtime/relay.py: runs claimed from our database, each Prefect flow run
in-process) and the periodic jobs of `flows.registry.SCHEDULED`, whose cron times are read as wall-clock
times in CHINA_TZ_NAME, so a job runs at the same moments whichever mode runs it.
- embedded: the scheduler runs each due job itself;
- server mode: every worker's scheduler queues each due fire in the outbox under a key naming the job and
  its cron time, so of several workers exactly one runs it (the key is unique; the relay's claim and lease
  do the rest), a fire survives a worker killed mid-run, and losing Prefect's database loses none. This
  replaced Prefect cron deployments served by `prefect.serve`: those start a Python process per run, need
  Prefect's database to remember the schedule, and would be a second way of running flows beside the relay.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from cronsim import CronSim
from sqlalchemy.engine import Engine

from flows.registry import SCHEDULED
from models.db import engine_for_flows, session_scope, utcnow
from models.outbox import enqueue
from models.tz import CHINA_TZ_NAME
from runtime.relay import Relay, after_commit, run_with_api_retries, set_relay, worker_poll_seconds
from runtime.sender import MessageSender

log = logging.getLogger("tiaojie.serve")


class Fire(NamedTuple):
    """A job to run now, and the cron time it stands for (UTC)."""

    name: str
    at: datetime


class CronSchedule:
    """When each periodic job is due, from its cron string. Pure: the caller passes every `now`.

    A job whose next cron time has come is due once, standing for the latest cron time that has
    passed; its next cron time is then the first one after `now`. So fires missed while the process
    slept, was busy or was down are never replayed one by one: at most one run makes up for them.
    """

    def __init__(self, crons: Mapping[str, str], *, start: datetime, tz: str = CHINA_TZ_NAME) -> None:
        self.crons = dict(crons)
        self.tz = ZoneInfo(tz)
        # Nothing records what an earlier process ran, so the latest fire before `start` may have been
        # missed: it is due at once. Running it again is harmless because every job is idempotent for
        # the fire it stands for (a sweep per escalation period, reminders per day, the report per week).
        self._next = {name: self._latest(cron, start) for name, cron in self.crons.items()}

    def _latest(self, cron: str, now: datetime) -> datetime:
        """The latest cron time at or before `now`."""
        # CronSim steps one second back before matching: start one second after `now`.
        after_now = now.astimezone(self.tz).replace(microsecond=0) + timedelta(seconds=1)
        return next(CronSim(cron, after_now, reverse=True)).astimezone(UTC)

    def _after(self, cron: str, now: datetime) -> datetime:
        """The first cron time strictly after `now`."""
        return next(CronSim(cron, now.astimezone(self.tz))).astimezone(UTC)

    def next_fire(self, name: str) -> datetime:
        return self._next[name]

    def due_jobs(self, now: datetime) -> list[Fire]:
        """The jobs due at `now`; they are taken as run, so a second call with the same `now` returns []."""
        due = []
        for name, cron in self.crons.items():
            if self._next[name] <= now:
                due.append(Fire(name, self._latest(cron, now)))
                self._next[name] = self._after(cron, now)
        return due


class EmbeddedScheduler:
    """The outbox relay plus the periodic jobs, as threads: of the web process (embedded mode), or of
    `tiaojie worker` (`jobs_via_outbox`: each due fire is queued in the outbox, see the module's note)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = 5.0,
        relay: Relay | None = None,
        jobs_via_outbox: bool = False,
    ) -> None:
        self.engine = engine
        self.relay = relay or Relay(engine)
        # Messages to parties go out from here too (runtime/sender.py): after commit, never in a request.
        self.messages = MessageSender(engine)
        self.jobs_via_outbox = jobs_via_outbox
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        # Set after the first pass (the jobs missed while down made up for): `serve` listens after it.
        self.first_pass = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tiaojie-scheduler", daemon=True)
        # Made at the loop's first pass: that moment is the (re)start the catch-up rule refers to.
        self.schedule: CronSchedule | None = None

    def start(self) -> EmbeddedScheduler:
        set_relay(self.relay.start())
        self.messages.start()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.messages.stop()
        self.relay.stop()
        set_relay(None)

    def _loop(self) -> None:
        while not self.relay.ready.wait(1):
            if self.stopping.is_set():
                return
        while True:
            try:
                self.tick(self.clock())
            except Exception:  # the database unreachable for a moment: the next pass tries again
                log.exception("scheduler pass failed")
            self.first_pass.set()
            if self.stopping.wait(self.poll_seconds):
                return

    def tick(self, now: datetime) -> list[Fire]:
        """One pass of the loop: run the jobs due at `now`. A failed job waits for its next cron time
        (its flow has already retried)."""
        if self.schedule is None:
            self.schedule = CronSchedule({name: cron for name, (_flow, cron) in SCHEDULED.items()}, start=now)
        fires = self.schedule.due_jobs(now)
        for fire in fires:
            try:
                if self.jobs_via_outbox:
                    queue_fire(self.engine, fire)
                else:
                    self._run_flow(fire)
            except Exception:
                log.exception("scheduled job %s (%s) failed", fire.name, fire.at.isoformat())
        return fires

    def _run_flow(self, fire: Fire) -> None:
        flow_obj, _cron = SCHEDULED[fire.name]
        # The run is as of the cron time it stands for, so its idempotency keys (day, week, period)
        # are those of that fire, also when it makes up for a missed one. Prefect's API failing for a
        # moment is retried as for the outbox's runs, not left to the next cron time.
        with engine_for_flows(self.engine):
            state = run_with_api_retries(
                flow_obj, {"now_iso": fire.at.isoformat()}, f"scheduled:{fire.name}", stop=self.stopping
            )
        after_commit()  # wake the relay for what the job queued (the sweep's 督办单)
        if not state.is_completed():
            state.result()  # raises the job's own exception: tick logs it
            raise RuntimeError(state.message or state.name)


def queue_fire(engine: Engine, fire: Fire) -> str:
    """Server mode: queue a due job in the outbox, once per job and cron time whichever worker gets here."""
    key = f"scheduled:{fire.name}:{fire.at.isoformat()}"
    with session_scope(engine, write=True) as session:
        enqueue(session, flow=fire.name, key=key, case_id=None, params={"now_iso": fire.at.isoformat()})
    after_commit()
    return key


def start_embedded_scheduler(engine: Engine) -> EmbeddedScheduler:
    """`tiaojie serve` in embedded mode: the relay and the periodic jobs run here."""
    return EmbeddedScheduler(engine).start()


def run_worker(engine: Engine, *, stop: threading.Event | None = None) -> None:
    """`tiaojie worker` (server mode): claim runs from the shared database and run each flow in this
    process, reporting to the Prefect server at PREFECT_API_URL; queue the periodic jobs as they fall due.
    Several workers, on one machine or several, share the outbox. Returns when `stop` is set (SIGTERM or
    SIGINT when it is None); runs still in flight are claimed again by another worker once their lease
    runs out."""
    if stop is None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _signum, _frame: stop.set())
    relay = Relay(engine, interval=worker_poll_seconds())
    scheduler = EmbeddedScheduler(engine, relay=relay, jobs_via_outbox=True).start()
    try:
        while not (relay.ready.wait(0.5) and scheduler.first_pass.wait(0.5)):
            if stop.is_set():
                return
        # Tests and benchmarks wait for this line on the console.
        print(  # noqa: T201
            f"tiaojie worker: 已就绪（{len(relay.threads)} 个执行线程）", file=sys.stderr, flush=True
        )
        while not stop.wait(1):  # a timed wait: the signal handler runs in this thread meanwhile
            pass
    finally:
        scheduler.stop()
