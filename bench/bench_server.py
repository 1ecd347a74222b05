"""Server-mode throughput: a Prefect server on PostgreSQL, two `tiaojie worker` processes, and a burst of
cases pushed through intake → accept → panel → session (scheduled, recorded as agreed) → agreement via the API
(6 actions, 6 flows per case).

Reported: flow runs per second per worker (completed runs over the time from the first outbox row to the
last finish, divided by the workers), pick-up latency p50/p95 (our outbox row written → the Prefect flow
run started by a worker, which claims the row from the database and runs the flow in its own process),
and the workers a province's peak needs, with the arithmetic printed. Processes: `prefect server start`
(PREFECT_API_DATABASE_CONNECTION_URL on a scratch PostgreSQL database, asyncpg driver), two `tiaojie
worker`, one `tiaojie serve` committing the outbox rows (PREFECT_API_URL set), our database on PostgreSQL
too.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import (
    ROOT,
    PgDatabase,
    Result,
    free_port,
    header,
    make_staff,
    ms,
    pct,
    postgres_available,
    rss_mb,
)

BIN = Path(sys.executable).parent
CASES_PER_YEAR = 1_000_000
PEAK_FACTOR = 100
FLOWS_PER_CASE = 8
WORKERS = 2


class Proc:
    """A child process with its log; stopped by its own pid (never by name)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name, self.log = name, workdir / f"{name}.log"
        self._logf = open(self.log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._logf, stderr=subprocess.STDOUT)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()


def _wait_http(url: str, seconds: float, proc: Proc) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: {proc.tail()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{proc.name} did not answer {url}: {proc.tail()}")


def _asyncpg_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def _push_case(c: httpx.Client, body: dict, lead: int, elder: int, i: int) -> int:
    def ok(r: httpx.Response, expect: int) -> dict:
        if r.status_code != expect:
            raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}")
        return r.json()

    cid = ok(c.post("/cases", json=body), 201)["id"]
    ok(c.post(f"/cases/{cid}/accept", json={}), 200)
    members = {"members": [{"expert_id": lead, "role": "lead"}, {"expert_id": elder, "role": "member"}]}
    ok(c.put(f"/cases/{cid}/panel", json=members), 200)
    when = (datetime.now(UTC) + timedelta(days=1, hours=3 * i)).isoformat()
    sid = ok(c.post(f"/cases/{cid}/sessions", json={"scheduled_at": when, "location": f"调解室{i}"}), 201)[
        "id"
    ]
    record = {
        "held_at": datetime.now(UTC).isoformat(),
        "attendees": ["陈阿大", "林小二"],
        "notes": "双方陈述意见，调解员释法说理，达成协议。",
        "outcome": "agreed",
    }
    ok(c.post(f"/cases/{cid}/sessions/{sid}/record", json=record), 200)
    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    agreement = {
        "terms": [
            {
                "obligor": "林小二",
                "obligee": "陈阿大",
                "obligation": "赔偿围墙修复费用",
                "amount": "3000.00",
                "due_date": due,
            }
        ],
        "performance_method": "银行转账",
        "performance_place": "瑞安市塘下镇",
    }
    # (Signing waits for the agreement's PDF, which a worker makes: not part of a burst.)
    ok(c.post(f"/cases/{cid}/agreement", json=agreement), 201)
    return cid


def _prefect_runs(api: str) -> list[dict]:
    runs: list[dict] = []
    offset = 0
    while True:
        r = httpx.post(f"{api}/flow_runs/filter", json={"limit": 200, "offset": offset}, timeout=60)
        r.raise_for_status()
        page = r.json()
        runs += page
        if len(page) < 200:
            return runs
        offset += 200


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def run(*, quick: bool = False, burst: int | None = None, workdir: Path) -> Result:
    header("server: Prefect server on PostgreSQL, two tiaojie workers, a burst of cases through the API")
    res = Result("server", "Server-mode throughput")
    n = burst or (4 if quick else 30)
    if not postgres_available():
        res.note("PostgreSQL not reachable: skipped")
        return res
    from models.db import make_engine
    from models.migrate import upgrade
    from tests.factories import PASSWORD, add_expert, neighbor_case

    with ExitStack() as stack:
        prefect_db = stack.enter_context(PgDatabase("prefect"))
        app_db = stack.enter_context(PgDatabase("server"))
        upgrade(app_db.url)
        eng = make_engine(app_db.url)
        make_staff(eng)
        kw = dict(towns=["塘下镇"], specialties=["neighbor"], max_active_cases=100_000)
        lead = add_expert(eng, name="李调解", kind="mediator", **kw)
        elder = add_expert(eng, name="陈乡贤", kind="elder", **kw)
        eng.dispose()

        prefect_port, web_port = free_port(), free_port()
        api = f"http://127.0.0.1:{prefect_port}/api"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
        base_env.update(
            PREFECT_API_DATABASE_CONNECTION_URL=_asyncpg_url(prefect_db.url),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_LEVEL="WARNING",
            # The default pool (5 + 10, 30 s) ran dry on a busy machine: set_state answered 500 and
            # runs crashed before they started.
            PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE="20",
            PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW="20",
            PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_TIMEOUT="120",
        )
        env = {**base_env, "PREFECT_API_URL": api, "TIAOJIE_DATABASE_URL": app_db.url}
        procs: list[Proc] = []
        stack.callback(lambda: [p.stop() for p in reversed(procs)])
        t0 = time.monotonic()
        procs.append(
            Proc(
                "prefect-server",
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                base_env,
                workdir,
            )
        )
        _wait_http(f"{api}/health", 240, procs[0])
        res.fig("Prefect server up (PostgreSQL, asyncpg)", f"{time.monotonic() - t0:.1f} s")
        workers = [Proc(f"worker{i}", [str(BIN / "tiaojie"), "worker"], env, workdir) for i in range(WORKERS)]
        procs += workers
        web = Proc("web", [str(BIN / "tiaojie"), "serve", "--port", str(web_port)], env, workdir)
        procs.append(web)
        base = f"http://127.0.0.1:{web_port}"
        _wait_http(f"{base}/healthz", 180, web)
        # Each worker says when its relay threads are warm.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not all("已就绪" in w.tail() for w in workers):
            time.sleep(1)
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "bench_clerk", "password": PASSWORD}, timeout=30
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = neighbor_case()
        started = time.monotonic()
        with httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=120) as c:
            for i in range(n):
                _push_case(c, body, lead, elder, i)
        pushed = time.monotonic() - started
        res.fig("burst pushed through the API", f"{n} cases × 6 actions in {pushed:.1f} s")

        # Wait for every outbox row to be done (completed or failed), then read Prefect's runs.
        eng = make_engine(app_db.url)
        from sqlalchemy import text

        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with eng.connect() as conn:
                left = conn.execute(
                    text("SELECT count(*) FROM process_runs WHERE status NOT IN ('completed', 'failed')")
                ).scalar_one()
            if not left:
                break
            time.sleep(1)
        with eng.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM process_runs GROUP BY status")).all()
            outbox = {
                r.prefect_flow_run_id: r.created_at
                for r in conn.execute(
                    text(
                        "SELECT prefect_flow_run_id, created_at FROM process_runs"
                        + " WHERE prefect_flow_run_id IS NOT NULL"
                    )
                )
            }
        eng.dispose()
        res.fig(
            "outbox rows by status",
            ", ".join(f"{s} {k}" for s, k in rows) + (f" ({left} left)" if left else ""),
        )
        rss = {p.name: rss_mb(p.proc.pid) for p in procs}
        # The flow runs of outbox rows (not the workers' warm-up runs).
        runs = [r for r in _prefect_runs(api) if r["id"] in outbox]
        done = [r for r in runs if r.get("start_time") and r.get("end_time")]
        if not done:
            res.note("no flow run finished: " + workers[0].tail())
            return res
        pickup = [(_ts(r["start_time"]) - outbox[r["id"]].astimezone(UTC)).total_seconds() for r in done]
        first = min(outbox[r["id"]].astimezone(UTC) for r in done)
        last = max(_ts(r["end_time"]) for r in done)
        span = (last - first).total_seconds()
        states: dict[str, int] = {}
        for r in runs:
            states[r["state_type"]] = states.get(r["state_type"], 0) + 1
        per_worker = len(done) / span / WORKERS
        avg_run = sum(r.get("total_run_time") or 0 for r in done) / len(done)
        res.fig(
            "Prefect flow runs (of outbox rows) by state",
            ", ".join(f"{k} {v}" for k, v in sorted(states.items())),
        )
        res.fig(
            "flow runs finished / span",
            f"{len(done)} runs in {span:.1f} s (first outbox row → last finish)"
            f" = {len(done) / span:.2f} runs/s",
        )
        res.fig("flow runs per second per worker", f"{per_worker:.2f} runs/s ({WORKERS} workers)")
        res.fig("mean run time inside the flow", f"{avg_run:.2f} s")
        res.fig(
            "pick-up latency (outbox row written → flow run started)",
            f"p50 {ms(pct(pickup, 50))}  p95 {ms(pct(pickup, 95))}  max {ms(max(pickup))}",
        )
        for name, mb in rss.items():
            res.fig(f"RSS {name} after the burst", f"{mb:.0f} MB" if mb else "?")
        # A province's peak: the year's flows spread evenly, times the peak factor.
        year_s = 365 * 24 * 3600
        avg = CASES_PER_YEAR * FLOWS_PER_CASE / year_s
        peak = avg * PEAK_FACTOR
        need = math.ceil(peak / per_worker)
        res.fig(
            "province peak (arithmetic)",
            f"{CASES_PER_YEAR:,} cases/yr × {FLOWS_PER_CASE} flows / {year_s:,} s"
            f" = {avg:.3f} flows/s average; "
            f"× {PEAK_FACTOR} = {peak:.1f} flows/s at peak; / {per_worker:.2f} runs/s per worker "
            f"= {peak / per_worker:.1f} → {need} workers",
        )
        res.check(
            "server mode: workers for a province's peak",
            measured=f"{per_worker:.2f} runs/s/worker, pick-up p95 {ms(pct(pickup, 95))}",
            baseline=f"peak {peak:.1f} flows/s",
            ratio=peak / per_worker,
            target="reported (workers needed)",
            passed=None,
        )
        res.note(f"workers needed at a province's peak: {need} (each `tiaojie worker` as measured here)")
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--burst", type=int, help="cases in the server-mode burst (server; default 30, quick 4)")
