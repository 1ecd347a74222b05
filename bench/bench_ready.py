"""Document ready after the action (issue 13 item 3): request → the document listed, as a clerk waits for
it, in both modes, including the first action right after start.

- embedded: one `tiaojie serve` (Prefect's temporary server starts with it; serve listens once flows can
  run); the intake's 申请登记表 ("application") is rendered by the relay's worker threads.
- server: `prefect server start`, one `tiaojie worker` (claims the outbox rows from the database, polled
  every TIAOJIE_WORKER_POLL_SECONDS, and runs each flow in its own process, reported to the Prefect
  server) and `tiaojie serve`, which only commits the outbox rows (PREFECT_API_URL set).

Each mode: a fresh data dir and SQLite database; "start" is the moment serve answers /healthz (server mode:
and the worker says it is ready); the first intake is sent at once, then N more one after another.
Latency = POST /api/v1/cases sent → GET /api/v1/cases/{id}/documents lists "application" (polled every
50 ms). Targets: p95 ≤ 2 s embedded (the first action included), ≤ 3 s in server mode.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.common import ROOT, Result, free_port, header, ms, pct

BIN = Path(sys.executable).parent
PASSWORD = "bench-ready-password-1"
EMBEDDED_TARGET = 2.0
SERVER_TARGET = 3.0


class _Proc:
    """A child process with its log, stopped by its own pid."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.log = workdir / f"{name}.log"
        self._logf = open(self.log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._logf, stderr=subprocess.STDOUT)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()


def _wait(check, seconds: float, proc: _Proc) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"exited: {proc.tail()}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready after {seconds:.0f} s: {proc.tail()}")


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIAOJIE_", "PREFECT_"))}
    env.update(
        TIAOJIE_DATA_DIR=str(workdir / "data"),
        TIAOJIE_DATABASE_URL=f"sqlite:///{workdir / 'tiaojie.db'}",
        TIAOJIE_SECRET_KEY="bench-ready-secret-key-0123456789abcdef",
        PREFECT_HOME=str(workdir / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    return env


def _intake_body(i: int) -> dict:
    from tests.factories import neighbor_case

    return neighbor_case(summary=f"两户因屋檐滴水和通道使用发生争执（测量 {i}）。")


def _one(client: httpx.Client, i: int, timeout: float = 120) -> tuple[float, float]:
    """Seconds from sending an intake to its answer, and to its application form being listed."""
    t0 = time.perf_counter()
    r = client.post("/api/v1/cases", json=_intake_body(i))
    answered = time.perf_counter() - t0
    if r.status_code != 201:
        raise RuntimeError(f"intake answered {r.status_code}: {r.text[:300]}")
    case_id = r.json()["id"]
    while time.perf_counter() - t0 < timeout:
        docs = client.get(f"/api/v1/cases/{case_id}/documents").json()
        if any(d["kind"] == "application" for d in docs):
            return answered, time.perf_counter() - t0
        time.sleep(0.05)
    raise RuntimeError(f"no application form for case {case_id} after {timeout:.0f} s")


def _measure(mode: str, n: int, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    env = _env(workdir)
    subprocess.run([str(BIN / "tiaojie"), "init"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [str(BIN / "tiaojie"), "user", "add", "clerk", "--role", "staff", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with ExitStack() as stack:
        started = time.perf_counter()
        if mode == "server":
            prefect_port = free_port()
            api = f"http://127.0.0.1:{prefect_port}/api"
            prefect = _Proc(
                "prefect",
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                env,
                workdir,
            )
            stack.callback(prefect.stop)
            _wait(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, 300, prefect)
            env = {**env, "PREFECT_API_URL": api}
            worker = _Proc("worker", [str(BIN / "tiaojie"), "worker"], env, workdir)
            stack.callback(worker.stop)

            # Its relay threads are warm (a flow run each against the Prefect server, fonts loaded).
            _wait(lambda: "已就绪" in worker.log.read_text(errors="replace"), 300, worker)
        port = free_port()
        web = _Proc("serve", [str(BIN / "tiaojie"), "serve", "--port", str(port)], env, workdir)
        stack.callback(web.stop)
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, 300, web)
        start_seconds = time.perf_counter() - started
        with httpx.Client(base_url=base, timeout=60) as client:
            token = client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD}).json()
            client.headers["Authorization"] = f"Bearer {token['access_token']}"
            first_answer, first = _one(client, 0)
            rest = []
            for i in range(1, n + 1):
                rest.append(_one(client, i))
                time.sleep(0.2)
    return {
        "start": start_seconds,
        "first": first,
        "first_answer": first_answer,
        "all": [first, *(ready for _answer, ready in rest)],
        "answers": [first_answer, *(answer for answer, _ready in rest)],
    }


def run(*, quick: bool = False, ready_n: int | None = None, workdir: Path) -> Result:
    n = ready_n or (5 if quick else 20)
    header(f"document ready after the action: request → document listed ({n} + 1 intakes per mode)")
    res = Result("ready", "document ready after the action (embedded, server mode)")
    for mode, target in (("embedded", EMBEDDED_TARGET), ("server", SERVER_TARGET)):
        m = _measure(mode, n, workdir / mode)
        p50, p95 = pct(m["all"], 50), pct(m["all"], 95)
        res.fig(f"{mode}: start until serve answers", f"{m['start']:.1f} s")
        first = f"{ms(m['first'])} (answered in {ms(m['first_answer'])})"
        res.fig(f"{mode}: first action after start", first)
        res.fig(f"{mode}: intake answered p50 (document not waited for)", ms(pct(m["answers"], 50)))
        res.fig(f"{mode}: p50 / p95 / max", f"{ms(p50)} / {ms(p95)} / {ms(max(m['all']))}")
        res.check(
            f"{mode}: document ready p95 (first action included)",
            measured=ms(p95),
            baseline=f"target {target:.0f} s",
            ratio=p95 / target,
            target=f"≤ {target:.0f} s",
            passed=p95 <= target,
        )
        res.check(
            f"{mode}: first action after start",
            measured=ms(m["first"]),
            baseline=f"target {target:.0f} s",
            ratio=m["first"] / target,
            target=f"≤ {target:.0f} s",
            passed=m["first"] <= target,
        )
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ready-n", type=int, help="ready: intakes per mode after the first (default 20)")
