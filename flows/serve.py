"""Running the flows: embedded (threads in `tiaojie serve`) or as Prefect deployments (`tiaojie worker`)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from flows.dispatch import Relay, set_relay
from models.db import utcnow

log = logging.getLogger("tiaojie.serve")


class EmbeddedScheduler:
    """The outbox relay plus the periodic jobs, as threads of the web process (no Prefect server)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.relay = Relay(engine)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tiaojie-scheduler", daemon=True)
        self._last: dict[str, object] = {}

    def start(self) -> EmbeddedScheduler:
        set_relay(self.relay.start())
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.relay.stop()
        set_relay(None)

    def _loop(self) -> None:
        from flows.dispatch import server_mode
        from flows.escalation import run_sweep
        from flows.process import china_date

        while not self.relay.ready.wait(1):
            if self._stop.is_set():
                return
        while not self._stop.wait(5):
            if server_mode():
                continue  # the workers run the cron deployments (tiaojie worker)
            now = utcnow()
            try:
                hour = now.replace(minute=0, second=0, microsecond=0)
                if self._last.get("sweep") != hour:
                    self._last["sweep"] = hour
                    run_sweep(self.engine, now=now)
                day = china_date(now)
                if self._last.get("remind") != day:
                    self._last["remind"] = day
                    self._run_flow("follow-up-reminders", now)
                week = day.isocalendar()[:2]
                if self._last.get("backlog") != week and day.isoweekday() == 1:
                    self._last["backlog"] = week
                    self._run_flow("backlog-report", now)
            except Exception:
                log.exception("scheduled job failed")

    def _run_flow(self, name: str, now) -> None:  # noqa: ANN001
        from flows.dispatch import _run_coroutine
        from flows.registry import SCHEDULED
        from models.db import engine_for_flows

        flow_obj, _cron = SCHEDULED[name]
        with engine_for_flows(self.engine):
            _run_coroutine(flow_obj(now_iso=now.isoformat()))


def start_embedded_scheduler(engine: Engine) -> EmbeddedScheduler:
    """`tiaojie serve`: in embedded mode run everything here; in server mode only relay the outbox."""
    return EmbeddedScheduler(engine).start()


def serve_deployments() -> None:
    """`tiaojie worker`: serve every flow as a deployment (event flows on demand, scheduled ones by cron)."""
    from prefect import serve
    from prefect.schedules import Cron

    from flows.registry import FLOWS, SCHEDULED

    deployments = [f.to_deployment(name=f.name) for f in FLOWS.values()]
    deployments += [
        f.to_deployment(name=f.name, schedule=Cron(cron, timezone="Asia/Shanghai"))
        for f, cron in SCHEDULED.values()
    ]
    serve(*deployments)
