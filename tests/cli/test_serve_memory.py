"""`tiaojie serve` (embedded mode) runs its Prefect server lean: the malloc arena limit of `serve`
(flows.memory) and the services embedded mode does without turned off (flows.prefect_env) reach the
child, and with them off an intake's flow still runs to its documents with its states in Prefect."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from flows.prefect_env import EMBEDDED_SERVER_ENV
from tests.cli.test_serve_lifecycle import COMMAND, ROOT, alive, serve_env, start_serve, wait_gone


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.slow
def test_prefect_child_runs_lean_and_flows_still_complete(tmp_path: Path) -> None:
    from tests.factories import PASSWORD, neighbor_case

    env = serve_env(tmp_path)
    env.pop("MALLOC_ARENA_MAX", None)
    env["TIAOJIE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'var' / 'lean.db'}"
    subprocess.run([*COMMAND, "init"], check=True, capture_output=True, cwd=ROOT, env=env, timeout=120)
    subprocess.run(
        [*COMMAND, "user", "add", "clerk", "--role", "staff", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    served = start_serve(tmp_path, env, "lean")
    prefect_pid, prefect_port = served.prefect_server()
    try:
        child_env = environ(prefect_pid)
        # Set by serve itself before its threads and the child started (flows.memory.limit_arenas).
        assert child_env.get("MALLOC_ARENA_MAX") == "2"
        for name, value in EMBEDDED_SERVER_ENV.items():
            assert child_env.get(name) == value, name
        assert child_env["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] == "false"
        assert child_env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] == "false"

        base = f"http://127.0.0.1:{served.port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD})
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            r = client.post("/api/v1/cases", json=neighbor_case())
            assert r.status_code == 201, r.text
            case_id = r.json()["id"]
            deadline = time.monotonic() + 90
            docs: list = []
            while time.monotonic() < deadline and not docs:
                docs = client.get(f"/api/v1/cases/{case_id}/documents").json()
                time.sleep(0.3)
            assert docs, "the intake flow made no document with the lean Prefect server"
        # The flow run's states are in Prefect's database: it completed there.
        prefect = f"http://127.0.0.1:{prefect_port}/api"
        runs = httpx.post(f"{prefect}/flow_runs/filter", json={"limit": 50}, timeout=10).json()
        states = {run["name"]: run["state_type"] for run in runs}
        assert "COMPLETED" in states.values(), states
        assert not [s for s in states.values() if s in ("FAILED", "CRASHED")], states
    finally:
        served.proc.send_signal(signal.SIGTERM)
        try:
            served.proc.wait(timeout=60)
        finally:
            for pid in (served.proc.pid, prefect_pid):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            wait_gone(prefect_pid, 10)
