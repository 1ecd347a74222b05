"""The Prefect behaviour embedded mode relies on (runtime/prefect_env.py), checked in a fresh process as
`tiaojie serve` sets it up: no API yet means a clear error and no child server; once this process serves
the API, a thread started before it runs a flow that the API records; stopping it closes its port. Fails
when a Prefect upgrade changes any of it (written against Prefect 3.9.1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import child_env

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import json, os, sys, threading
from pathlib import Path
from runtime.prefect_env import api_url, configure, embedded_api_url, serve_embedded_api, stop_embedded_server
configure()  # before anything imports Prefect, as `tiaojie` does
from runtime.relay import server_mode
from prefect import flow
from prefect.client.orchestration import get_client
out = {}

def children():
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").glob("*"):
        found += (task / "children").read_text().split()
    return found

@flow(name="prefect-env-check")
def check() -> int:
    return 7

try:
    get_client(sync_client=True)
    out["no_api"] = "a client"
except ValueError as exc:
    out["no_api"] = str(exc)
out["api_url_before"] = api_url()
go, seen = threading.Event(), {}

def earlier():
    go.wait()
    seen["thread_url"] = api_url()
    state = check(return_state=True)
    seen["flow_run_id"] = str(state.state_details.flow_run_id)
    seen["result"] = state.result()

thread = threading.Thread(target=earlier)
thread.start()
url = serve_embedded_api()
go.set()
thread.join()
out.update(seen, url=url, server_mode=server_mode(), same=serve_embedded_api() == url)
with get_client(sync_client=True) as client:
    run = client.read_flow_run(seen["flow_run_id"])
out["recorded"] = [run.name is not None, run.state.type.value]
out["children"] = children()
stop_embedded_server()
out["after_stop"] = [api_url(), embedded_api_url(), os.environ.get("PREFECT_API_URL")]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_embedded_api_serves_this_process_and_prefect_starts_no_server_of_its_own(tmp_path: Path) -> None:
    env = child_env(tmp_path, "prefect-env-test", PREFECT_LOGGING_LEVEL="WARNING")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # Before the API: Prefect refuses, it does not fork a temporary server.
    assert "No Prefect API URL provided" in out["no_api"]
    assert out["api_url_before"] is None
    # The thread started before the API reads its URL, and its flow run is recorded there.
    assert out["url"].startswith("http://127.0.0.1:") and out["thread_url"] == out["url"]
    assert out["result"] == 7
    assert out["recorded"] == [True, "COMPLETED"]
    assert out["same"] is True  # started once
    assert out["server_mode"] is False  # our own API's URL is still embedded mode
    assert out["children"] == []
    assert out["after_stop"] == [None, None, None]
