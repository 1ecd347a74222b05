"""A real `tiaojie serve` (embedded mode) and the Prefect server it starts: the Prefect server is up before
the web server listens, and it never outlives `serve` — not after a clean SIGTERM, not after kill -9."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.servers import free_port
from tests.support.pdf import pdf_compact
from tests.support.processes import child_env

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).parent / "tiaojie"
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "api.cli"]


def serve_env(tmp_path: Path) -> dict[str, str]:
    return child_env(
        tmp_path,
        "lifecycle-test",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        PYTHONIOENCODING="utf-8",
    )


def children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (every thread's children list)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Running (a zombie has exited: only its exit status is left for the parent to collect)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Served:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def prefect_server(self) -> tuple[int, int]:
        """(pid, port) of the Prefect API this `serve` runs: in its own process (runtime.prefect_env), the
        port as serve printed it. No Prefect server may be among its children."""
        for pid in children(self.proc.pid):
            assert "prefect.server.api.server:create_app" not in cmdline(pid), "a Prefect child process"
        found = re.search(r"Prefect API http://127\.0\.0\.1:(\d+)/api", self.log.read_text())
        assert found, f"serve did not say where its Prefect API is: {self.log.read_text()[-2000:]}"
        return self.proc.pid, int(found.group(1))


def init_with_clerk(env: dict[str, str]) -> None:
    """`tiaojie init` on the environment's database, and a staff user "clerk" (tests.factories.PASSWORD)."""
    from tests.factories import PASSWORD

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


def start_serve(tmp_path: Path, env: dict[str, str], name: str) -> Served:
    port = free_port()
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return Served(proc, port, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"serve did not start: {log.read_text()[-3000:]}")


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.2)
    return not alive(pid)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = serve_env(tmp_path)
    subprocess.run([*COMMAND, "init"], check=True, capture_output=True, cwd=ROOT, env=env, timeout=120)
    yield env


@pytest.mark.slow
def test_sigterm_stops_serve_and_its_prefect_server(tmp_path: Path, env: dict[str, str]) -> None:
    served = start_serve(tmp_path, env, "sigterm")
    prefect_pid, prefect_port = served.prefect_server()
    try:
        # Started with serve, not at the first flow run: it answers as soon as serve does.
        assert httpx.get(f"http://127.0.0.1:{prefect_port}/api/health", timeout=5).status_code == 200
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=60) == 0, served.log.read_text()[-3000:]
        assert wait_gone(prefect_pid, 10), "Prefect's server outlived a clean SIGTERM of serve"
        assert not listening(prefect_port)
        assert not listening(served.port)
    finally:
        for pid in (served.proc.pid, prefect_pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_kill_9_of_serve_takes_its_prefect_server_along(tmp_path: Path, env: dict[str, str]) -> None:
    served = start_serve(tmp_path, env, "kill9")
    prefect_pid, prefect_port = served.prefect_server()
    try:
        served.proc.kill()  # SIGKILL: no handler, no atexit, nothing of serve runs
        served.proc.wait(timeout=10)
        started = time.monotonic()
        assert wait_gone(prefect_pid, 15), "Prefect's server outlived kill -9 of serve (an orphan)"
        assert time.monotonic() - started < 15
        deadline = time.monotonic() + 5
        while listening(prefect_port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not listening(prefect_port)
    finally:
        if alive(prefect_pid):
            os.kill(prefect_pid, signal.SIGKILL)


def _intake_supports_idempotency(client: httpx.Client) -> bool:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/cases"]["post"]
    return any(p.get("name") == "Idempotency-Key" for p in post.get("parameters", []))


@pytest.fixture(params=["sqlite"] + (["postgresql"] if POSTGRES_URL else []))
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test (on PostgreSQL a uniquely named one, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'fault.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert POSTGRES_URL
    name = f"tiaojie_fault_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_kill_9_mid_burst_loses_nothing_duplicates_nothing(
    tmp_path: Path, env: dict[str, str], database_url: str
) -> None:
    """A burst of intakes, kill -9 of serve in the middle of it, a restart: every intake's flow is done
    within 60 s of the restart (serve started again, not serve answering), each case has its documents
    once, and a request whose answer was lost, retried with its Idempotency-Key, creates no second case."""
    from sqlalchemy import create_engine
    from sqlmodel import Session, col, func, select

    from models.case import Case
    from models.document import Document
    from models.process_run import ProcessRun
    from tests.factories import PASSWORD, neighbor_case

    db_url = database_url
    env = {**env, "TIAOJIE_DATABASE_URL": db_url}
    init_with_clerk(env)
    served = start_serve(tmp_path, env, "first")
    base = f"http://127.0.0.1:{served.port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD}).json()
        idempotent = _intake_supports_idempotency(client)
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    answered: dict[str, int] = {}  # idempotency key -> case id
    unknown: list[str] = []  # sent, answer lost in the kill
    lock = threading.Lock()
    killed = threading.Event()

    def burst(worker: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            for i in range(8):
                if killed.is_set():
                    return
                key = f"fault-{worker}-{i}"
                try:
                    r = client.post(
                        "/api/v1/cases", json=neighbor_case(), headers={**headers, "Idempotency-Key": key}
                    )
                except httpx.HTTPError:
                    with lock:
                        unknown.append(key)
                    return
                assert r.status_code == 201, r.text
                with lock:
                    answered[key] = r.json()["id"]

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while len(answered) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    prefect_pid, _prefect_port = served.prefect_server()
    served.proc.kill()  # kill -9 mid-burst: requests in flight, flows running and pending
    killed.set()
    served.proc.wait(timeout=10)
    for t in threads:
        t.join(timeout=60)
    assert wait_gone(prefect_pid, 15)

    engine = create_engine(db_url)
    with Session(engine) as session:
        left = dict(session.exec(select(ProcessRun.status, func.count()).group_by(ProcessRun.status)).all())
    assert left.get("completed", 0) < sum(left.values()), f"nothing was left to recover: {left}"

    restarted = time.monotonic()
    served = start_serve(tmp_path, env, "restart")
    listening_after = time.monotonic() - restarted
    try:
        with httpx.Client(base_url=base.rsplit(":", 1)[0] + f":{served.port}", timeout=30) as client:
            for key in unknown:  # the client retries what it never got an answer to, with the same key
                r = client.post(
                    "/api/v1/cases", json=neighbor_case(), headers={**headers, "Idempotency-Key": key}
                )
                # 409: the killed request still holds its key (until the key's in-flight lease runs out);
                # a client would retry later. Either way the retry must not make a second case.
                assert r.status_code in (200, 201, 409), r.text
                if r.status_code != 409:
                    answered[key] = r.json()["id"]
        while time.monotonic() - restarted < 120:
            with Session(engine) as session:
                waiting = session.exec(
                    select(func.count()).where(col(ProcessRun.status) != "completed")
                ).one()
            if waiting == 0:
                break
            time.sleep(0.5)
        recovered_in = time.monotonic() - restarted
        print(  # noqa: T201 - the recovery times, shown with pytest -s
            f"serve listening {listening_after:.1f} s after restart; flows done {recovered_in:.1f} s after it"
        )
        with Session(engine) as session:
            runs = session.exec(select(ProcessRun)).all()
            assert [r.key for r in runs if r.status != "completed"] == []
            assert recovered_in <= 60, f"pending flows were done {recovered_in:.1f} s after the restart"
            case_ids = set(session.exec(select(Case.id)).all())
            docs = session.exec(
                select(Document.case_id, Document.kind, func.count())
                .where(col(Document.case_id).is_not(None))  # reports of the scheduled jobs have no case
                .group_by(col(Document.case_id), col(Document.kind))
            ).all()
        # Every case that exists went through intake once: its documents, once each.
        assert {f"intake:{cid}" for cid in case_ids} <= {r.key for r in runs}
        assert all(count == 1 for _cid, _kind, count in docs), docs
        assert {cid for cid, _kind, _count in docs} == case_ids
        assert set(answered.values()) <= case_ids
        assert len(set(answered.values())) == len(answered)  # no two keys answered with one case
        if idempotent:  # a lost answer retried with its key is the same case, not a second one
            assert len(answered) <= len(case_ids) <= len(answered) + len(set(unknown) - set(answered))
    finally:
        served.proc.send_signal(signal.SIGTERM)
        try:
            served.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            served.proc.kill()
        engine.dispose()


@pytest.mark.slow
def test_documents_print_the_address_serve_was_started_on(tmp_path: Path, env: dict[str, str]) -> None:
    """TIAOJIE_PUBLIC_BASE_URL unset: the 不予受理通知书 issued by `serve --port P` prints, and its QR code
    holds, http://127.0.0.1:P/verify/<code> — not the default port 8000."""

    import zxingcpp
    from PIL import Image

    from tests.factories import PASSWORD, neighbor_case

    assert "TIAOJIE_PUBLIC_BASE_URL" not in env
    init_with_clerk(env)
    served = start_serve(tmp_path, env, "address")
    assert served.port != 8000
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{served.port}", timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD}).json()
            client.headers["Authorization"] = f"Bearer {token['access_token']}"
            cid = client.post("/api/v1/cases", json=neighbor_case()).json()["id"]
            r = client.post(
                f"/api/v1/cases/{cid}/reject", json={"reason": "x", "reason_code": "court_accepted"}
            )
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 120
            notice = None
            while notice is None and time.monotonic() < deadline:
                docs = client.get(f"/api/v1/cases/{cid}/documents").json()
                notice = next((d for d in docs if d["kind"] == "rejection_notice"), None)
                time.sleep(0.5)
            assert notice is not None, served.log.read_text()[-3000:]
            pdf = client.get(f"/api/v1/documents/{notice['id']}/pdf")
            assert pdf.status_code == 200
    finally:
        served.proc.terminate()
        served.proc.wait(timeout=60)
    url = f"http://127.0.0.1:{served.port}/verify/{notice['verify_code']}"
    assert url in pdf_compact(pdf.content)
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf.content)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")], check=True)
    found = [
        r.text
        for image in sorted(tmp_path.glob("page*.png"))
        for r in zxingcpp.read_barcodes(Image.open(image))
        if r.format == zxingcpp.BarcodeFormat.QRCode
    ]
    assert found == [url]
