"""Server mode for real: a Prefect server, two `tiaojie worker` processes claiming the outbox from the
shared database and running each flow in-process (reported to the Prefect server), and `tiaojie serve`,
which only commits the outbox rows. The user's request returns at once; the documents appear within
seconds; of two workers exactly one runs each run; a scheduled job's fire is queued once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from models.db import make_engine
from models.migrate import upgrade
from models.process_run import ProcessRun
from tests.factories import PASSWORD, neighbor_case
from tests.servers import free_port

BIN = Path(sys.executable).parent
CASES = 4


def _wait(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(what)


def _prefect_runs(api: str) -> list[dict]:
    r = httpx.post(f"{api}/flow_runs/filter", json={"limit": 200}, timeout=30)
    r.raise_for_status()
    return r.json()


@pytest.mark.slow
def test_server_mode_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db_url = f"sqlite:///{tmp_path / 'tiaojie.db'}"
    upgrade(db_url)
    prefect_port, web_port = free_port(), free_port()
    api = f"http://127.0.0.1:{prefect_port}/api"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TIAOJIE_"))}
    base_env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
        TIAOJIE_DATA_DIR=str(data),
        TIAOJIE_DATABASE_URL=db_url,
        TIAOJIE_SECRET_KEY="server-mode-test",
    )
    env = {**base_env, "PREFECT_API_URL": api}
    names = ("prefect", "worker0", "worker1", "web")
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in names}  # noqa: SIM115

    def tail(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]

    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                env=base_env,
                stdout=logs["prefect"],
                stderr=subprocess.STDOUT,
            )
        )
        _wait(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, 240, "prefect server")
        for name in ("worker0", "worker1"):
            procs.append(
                subprocess.Popen(
                    [str(BIN / "tiaojie"), "worker"], env=env, stdout=logs[name], stderr=subprocess.STDOUT
                )
            )
        subprocess.run(
            [str(BIN / "tiaojie"), "user", "add", "clerk", "--role", "staff", "--password-stdin"],
            input=PASSWORD + "\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        procs.append(
            subprocess.Popen(
                [str(BIN / "tiaojie"), "serve", "--port", str(web_port)],
                env=env,
                stdout=logs["web"],
                stderr=subprocess.STDOUT,
            )
        )
        web = f"http://127.0.0.1:{web_port}"
        _wait(lambda: httpx.get(f"{web}/healthz", timeout=2).status_code == 200, 120, "serve")
        for name in ("worker0", "worker1"):
            _wait(lambda name=name: "已就绪" in tail(name), 240, f"{name}: {tail(name)}")
        with httpx.Client(base_url=web, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            case_ids = []
            for i in range(CASES):  # one after another, as fast as the API answers: both workers busy
                started = time.monotonic()
                r = client.post(
                    "/api/v1/cases",
                    json=neighbor_case(summary=f"相邻两户因排水沟发生争执（{i}）。"),
                    headers=headers,
                )
                assert r.status_code == 201, r.text
                # The request did not wait for a worker.
                assert time.monotonic() - started < 2.0
                case_ids.append(r.json()["id"])

            def listed() -> bool:
                for case_id in case_ids:
                    docs = client.get(f"/api/v1/cases/{case_id}/documents", headers=headers).json()
                    if "application" not in [d["kind"] for d in docs]:
                        return False
                return True

            _wait(listed, 120, tail("worker0") + tail("worker1"))
            for case_id in case_ids:
                docs = client.get(f"/api/v1/cases/{case_id}/documents", headers=headers).json()
                assert [d["kind"] for d in docs].count("application") == 1, docs

        engine = make_engine(db_url)

        def all_runs() -> list[ProcessRun]:
            with Session(engine) as session:
                return list(session.exec(select(ProcessRun)).all())

        try:
            # A document is listed before its flow's last steps end: wait for every run to be done.
            _wait(lambda: all(r.status in ("completed", "failed") for r in all_runs()), 60, "runs done")
            runs = all_runs()
        finally:
            engine.dispose()
        intake_runs = [r for r in runs if r.flow == "intake"]
        assert len(intake_runs) == CASES
        for run in intake_runs:
            # Claimed once, by one worker, and run once: no second attempt, a Prefect run recorded.
            assert (run.status, run.attempts) == ("completed", 1), (run.key, run.status, run.last_error)
            assert run.claimed_by and run.prefect_flow_run_id
        # Each worker queued the hourly sweep's latest fire at its start: one row, whichever came first.
        sweeps = [r for r in runs if r.flow == "escalation-sweep"]
        assert len(sweeps) == 1, [r.key for r in sweeps]

        # The Prefect server saw exactly one flow run per outbox key, each one completed, none from a
        # deployment (the workers ran them in their own process).
        prefect_runs = [r for r in _prefect_runs(api) if "key" in (r.get("parameters") or {})]
        per_key = Counter(r["parameters"]["key"] for r in prefect_runs)
        for run in intake_runs:
            assert per_key[run.key] == 1, per_key
        by_id = {r["id"]: r for r in prefect_runs}
        for run in intake_runs:
            prefect_run = by_id[run.prefect_flow_run_id]
            assert prefect_run["state_type"] == "COMPLETED"
            assert prefect_run["deployment_id"] is None
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for handle in logs.values():
            handle.close()


def test_worker_without_prefect_api_url_fails_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TIAOJIE_"))}
    env.update(TIAOJIE_DATA_DIR=str(tmp_path / "data"), TIAOJIE_DATABASE_URL=f"sqlite:///{tmp_path / 't.db'}")
    r = subprocess.run([str(BIN / "tiaojie"), "worker"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "tiaojie: tiaojie worker 需要设置 PREFECT_API_URL（嵌入模式下由 tiaojie serve 运行流程）"
    ]
