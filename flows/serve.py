"""Running the flows: embedded (threads in `tiaojie serve`) or as Prefect deployments (`tiaojie worker`).

Both modes take the periodic jobs and their cron times from `flows.registry.SCHEDULED`, read as
wall-clock times in SCHEDULE_TIMEZONE, so a job runs at the same moments whichever mode runs it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from cronsim import CronSim
from sqlalchemy.engine import Engine

from flows.dispatch import Relay, set_relay
from models.db import utcnow

log = logging.getLogger("tiaojie.serve")

SCHEDULE_TIMEZONE = "Asia/Shanghai"


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

    def __init__(self, crons: Mapping[str, str], *, start: datetime, tz: str = SCHEDULE_TIMEZONE) -> None:
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
    """The outbox relay plus the periodic jobs, as threads of the web process (no Prefect server)."""

    def __init__(
        self, engine: Engine, *, clock: Callable[[], datetime] = utcnow, poll_seconds: float = 5.0
    ) -> None:
        self.engine = engine
        self.relay = Relay(engine)
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
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.relay.stop()
        set_relay(None)

    def _loop(self) -> None:
        from flows.dispatch import server_mode

        while not self.relay.ready.wait(1):
            if self.stopping.is_set():
                return
        while True:
            if not server_mode():  # in server mode the workers run the cron deployments (tiaojie worker)
                self.tick(self.clock())
            self.first_pass.set()
            if self.stopping.wait(self.poll_seconds):
                return

    def tick(self, now: datetime) -> list[Fire]:
        """One pass of the loop: run the jobs due at `now`. A failed job waits for its next cron time
        (its flow has already retried)."""
        from flows.registry import SCHEDULED

        if self.schedule is None:
            self.schedule = CronSchedule({name: cron for name, (_flow, cron) in SCHEDULED.items()}, start=now)
        fires = self.schedule.due_jobs(now)
        for fire in fires:
            try:
                self._run_flow(fire)
            except Exception:
                log.exception("scheduled job %s (%s) failed", fire.name, fire.at.isoformat())
        return fires

    def _run_flow(self, fire: Fire) -> None:
        from flows.dispatch import _run_coroutine, after_commit
        from flows.registry import SCHEDULED
        from models.db import engine_for_flows

        flow_obj, _cron = SCHEDULED[fire.name]
        # The run is as of the cron time it stands for, so its idempotency keys (day, week, period)
        # are those of that fire, also when it makes up for a missed one.
        with engine_for_flows(self.engine):
            if flow_obj.isasync:
                _run_coroutine(flow_obj(now_iso=fire.at.isoformat()))
            else:
                flow_obj(now_iso=fire.at.isoformat())
        after_commit()  # wake the relay for what the job queued (the sweep's 督办单)


def start_embedded_scheduler(engine: Engine) -> EmbeddedScheduler:
    """`tiaojie serve`: in embedded mode run everything here; in server mode only relay the outbox."""
    return EmbeddedScheduler(engine).start()


_T = TypeVar("_T")


def _returned(value: _T | Coroutine[Any, Any, _T]) -> _T:
    """Prefect's sync-or-async methods (to_deployment) return the value itself when called from sync code."""
    assert not isinstance(value, Coroutine)
    return value


def serve_deployments() -> None:
    """`tiaojie worker`: serve every flow as a deployment (event flows on demand, scheduled ones by cron)."""
    from prefect import serve
    from prefect.schedules import Cron

    from flows.registry import FLOWS, SCHEDULED

    deployments = [_returned(f.to_deployment(name=f.name)) for f in FLOWS.values()]
    deployments += [
        _returned(f.to_deployment(name=f.name, schedule=Cron(cron, timezone=SCHEDULE_TIMEZONE)))
        for f, cron in SCHEDULED.values()
    ]
    # Prefect's runner asks for scheduled runs every 10 s by default: a document would wait that long.
    serve(*deployments, query_seconds=worker_poll_seconds())


def worker_poll_seconds() -> float:
    """How often `tiaojie worker` asks Prefect for runs to start (TIAOJIE_WORKER_POLL_SECONDS, default 1):
    the pick-up delay of a run the relay handed over. One cheap query per second per worker."""
    try:
        return max(0.2, float(os.environ.get("TIAOJIE_WORKER_POLL_SECONDS", "1")))
    except ValueError:
        return 1.0
