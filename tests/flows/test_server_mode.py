"""Server mode for real: a Prefect server, `tiaojie worker` serving the deployments and `tiaojie serve`
relaying the outbox. The user's request returns at once; a worker runs the flow and reports back."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from models.migrate import upgrade
from tests.factories import PASSWORD, neighbor_case

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(url)


@pytest.mark.slow
def test_server_mode_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db_url = f"sqlite:///{tmp_path / 'tiaojie.db'}"
    upgrade(db_url)
    prefect_port, web_port = _free_port(), _free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TIAOJIE_"))}
    base_env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
        TIAOJIE_DATA_DIR=str(data),
        TIAOJIE_DATABASE_URL=db_url,
        TIAOJIE_SECRET_KEY="server-mode-test",
    )
    env = {**base_env, "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api"}
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("prefect", "worker", "web")}  # noqa: SIM115
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
        _wait(f"http://127.0.0.1:{prefect_port}/api/health", 240)
        procs.append(
            subprocess.Popen(
                [str(BIN / "tiaojie"), "worker"], env=env, stdout=logs["worker"], stderr=subprocess.STDOUT
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
        _wait(f"{web}/healthz", 120)
        with httpx.Client(base_url=web, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            started = time.monotonic()
            r = client.post("/api/v1/cases", json=neighbor_case(), headers=headers)
            answered = time.monotonic() - started
            assert r.status_code == 201, r.text
            case_id = r.json()["id"]
            # The request did not wait for a worker (a worker takes seconds to pick a run up).
            assert answered < 2.0
            deadline = time.monotonic() + 180
            kinds: list[str] = []
            while time.monotonic() < deadline and "application" not in kinds:
                time.sleep(2)
                docs = client.get(f"/api/v1/cases/{case_id}/documents", headers=headers).json()
                kinds = [d["kind"] for d in docs]
            assert "application" in kinds, (tmp_path / "worker.log").read_text()[-3000:]
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
