"""Concurrency (numbers, panels), idempotent reruns, failed flows flag the case, the audit log."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from models.case import Case
from models.db import utcnow
from models.document import Document
from models.escalation import Escalation
from models.notification import Notification
from models.outbox import requeue_failed
from models.process_run import ProcessRun
from models.settings import get_settings
from runtime.relay import drain, execute
from tests.factories import neighbor_case, wage_case
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


def test_gap_free_numbers_under_concurrent_intake(engine, as_user):
    staff = as_user("clerk")
    results: list[int] = []
    errors: list[str] = []

    def worker() -> None:
        for _ in range(3):
            r = staff.post("/cases", neighbor_case())
            if r.status_code == 201:
                results.append(r.json()["case_seq"] if "case_seq" in r.json() else r.json()["case_no"])
            else:
                errors.append(r.text)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = sorted(int(no.split("〕")[1].removesuffix("号")) for no in results)
    assert numbers == list(range(1, 19))


def test_two_staff_confirm_the_same_panel_at_once(engine, as_user, experts):
    staff = as_user("clerk")
    case = staff.post("/cases", neighbor_case()).json()
    accepted = staff.post(f"/cases/{case['id']}/accept", {}).json()
    body = {
        "members": [
            {"expert_id": experts["mediator_tangxia"], "role": "lead"},
            {"expert_id": experts["elder_tangxia"], "role": "member"},
        ],
        "version": accepted["version"],
    }
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def confirm() -> None:
        barrier.wait()
        codes.append(staff.put(f"/cases/{case['id']}/panel", body).status_code)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]
    detail = staff.get(f"/cases/{case['id']}").json()
    assert len(detail["panel"]) == 2 and detail["stage"] == "panel_formed"


def _issued(engine, cid: int) -> dict:
    """Everything a flow may create for a case, counted."""
    with Session(engine) as s:

        def count(model, *where) -> int:
            return s.exec(select(func.count()).select_from(model).where(*where)).one()

        return {
            "documents": sorted(
                (d.kind, d.sha256) for d in s.exec(select(Document).where(Document.case_id == cid)).all()
            ),
            "notifications": count(Notification, Notification.case_id == cid),
            "escalations": count(Escalation, Escalation.case_id == cid),
            "cases": count(Case),
            "case_numbers": s.exec(select(Case.case_no).order_by(Case.id)).all(),
            "runs": count(ProcessRun, ProcessRun.case_id == cid),
        }


def test_rerun_issues_nothing_twice(engine, users, experts):
    # A mass wage dispute (escalated at intake) taken to a drafted agreement: every kind of flow runs.
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts).registered(wage_case()).accepted()
    s.panel("mediator_yuhai", ("lawyer", "legal_advisor"), "department")
    s.scheduled(utcnow() + timedelta(days=1))
    # A record is of a session already held.
    s.agreed(utcnow(), attendees=["工人00", "公司代表"], notes="达成协议。", now=utcnow())
    term = {
        "obligor": "瑞安市某建设有限公司",
        "obligee": "工人00",
        "obligation": "支付拖欠工资",
        "amount": "320000.00",
        "due_date": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
    }
    cid = s.issued([term], now=utcnow(), method="银行转账", place="瑞安市").case
    before = _issued(engine, cid)
    kinds = {kind for kind, _ in before["documents"]}
    assert {"application", "supervision_order", "acceptance_notice", "session_record", "agreement"} <= kinds
    assert before["notifications"] > 0 and before["escalations"] == 1 and before["cases"] == 1

    # Run every flow of the case again, as a worker would after a crash.
    with Session(engine) as s:
        runs = s.exec(select(ProcessRun).where(ProcessRun.case_id == cid)).all()
        keys = [run.key for run in runs]
        for run in runs:
            run.status = "retry"
            s.add(run)
        s.commit()
    assert len(keys) == before["runs"] >= 5
    for key in keys:
        if not execute(engine, key):
            with Session(engine) as s:
                run = s.exec(select(ProcessRun).where(ProcessRun.key == key)).one()
            raise AssertionError(f"{key}: {run.status} {run.last_error}")
    assert _issued(engine, cid) == before


def test_failed_flow_flags_the_case_and_keeps_the_input(engine, as_user, monkeypatch, tmp_path):
    staff = as_user("clerk")
    body = neighbor_case(summary="两户因通道使用发生争执，需现场查看。")
    cid = staff.post("/cases", body).json()["id"]
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "documents").write_text("a file where the archive folder should be")
    monkeypatch.setattr(get_settings(), "data_dir", blocked)
    drain(engine)
    case = staff.get(f"/cases/{cid}").json()
    assert case["flagged"] is True and "自动流程" in case["flag_reason"]
    # The flow ran, failed, and ran once more (its one retry, flows.tasks.FLOW_RETRIES): the flag says two.
    assert "共尝试 2 次" in case["flag_reason"] and "Prefect 接口" not in case["flag_reason"]
    assert case["summary"] == body["summary"] and len(case["parties"]) == 2
    with Session(engine) as s:
        run = s.exec(select(ProcessRun).where(ProcessRun.key == f"intake:{cid}")).one()
    assert run.status == "failed" and run.last_error
    # The cause is fixed; staff run it again and the flag clears.
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path / "data")
    assert staff.post(f"/cases/{cid}/flows/retry", {}).json() == {"requeued": 1}
    drain(engine)
    case = staff.get(f"/cases/{cid}").json()
    assert case["flagged"] is False and "application" in [d["kind"] for d in case["documents"]]
    assert requeue_failed(engine, cid) == 0


def test_audit_log_is_append_only(engine, as_user):
    as_user("clerk").post("/cases", neighbor_case())
    for statement in ("UPDATE audit_events SET actor_name = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))
    with Session(engine) as s:
        assert s.exec(select(Case)).first() is not None


def test_a_flow_works_on_the_database_of_its_outbox_row(engine, tmp_path, sqlite_template):
    """Two databases in one process (a relay finishing for an old one): each run stays on its own."""
    import shutil

    from models.db import make_engine
    from tests.factories import add_user, register

    other_path = tmp_path / "other.db"
    shutil.copy(sqlite_template, other_path)
    other = make_engine(f"sqlite:///{other_path}")
    clerk = add_user(other, "clerk", "staff")
    from models.db import utcnow

    cid = register(other, neighbor_case(), actor_id=clerk, now=utcnow())
    assert execute(other, f"intake:{cid}")  # `engine` (the fixture) is the process-wide default
    with Session(other) as s:
        assert s.exec(select(Document).where(Document.case_id == cid)).first() is not None
    with Session(engine) as s:
        assert s.exec(select(Document)).first() is None
    other.dispose()


class FlakyPrefect:
    """A real HTTP server on 127.0.0.1 in front of Prefect's API: it answers `POST /api/flow_runs/` (a
    flow run being created; or another `request`) with 503 the first `failures` times (None: always), and
    passes every other request on to Prefect's API. It counts those requests (`asked`) and the refusals."""

    def __init__(
        self, upstream: str, failures: int | None, request: tuple[str, str] = ("POST", "/api/flow_runs/")
    ) -> None:
        import http.server

        self.upstream, self.failures, self.request = upstream.rstrip("/"), failures, request
        self.asked = 0
        self.refused = 0
        lock = threading.Lock()
        proxy = self
        client = httpx.Client(timeout=60)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Prefect's client expects

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if (self.command, self.path.split("?")[0]) == proxy.request:
                    with lock:
                        proxy.asked += 1
                        refuse = proxy.failures is None or proxy.refused < proxy.failures
                        proxy.refused += refuse
                    if refuse:
                        self._answer(503, [("Content-Type", "application/json")], b'{"detail":"busy"}')
                        return
                skip = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
                r = client.request(
                    self.command,
                    proxy.upstream + self.path.removeprefix("/api"),
                    headers=[(k, v) for k, v in self.headers.items() if k.lower() not in skip],
                    content=body,
                )
                drop = {"content-length", "connection", "transfer-encoding", "content-encoding"}
                self._answer(
                    r.status_code, [(k, v) for k, v in r.headers.items() if k.lower() not in drop], r.content
                )

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self._client = client
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyPrefect:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()


@pytest.fixture
def flaky_prefect(monkeypatch, prefect_server):
    """Route this thread's Prefect client through a FlakyPrefect. Prefect's client retries nothing
    itself here (PREFECT_CLIENT_MAX_RETRIES=0): every 503 reaches the relay, which must retry it.
    Events go straight to Prefect (the stand-in speaks no websocket)."""
    from contextlib import contextmanager

    from prefect.events.clients import PrefectEventsClient
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    monkeypatch.setenv("TIAOJIE_PREFECT_API_RETRY_DELAYS", "0.2,0.2,0.2")
    # The session's API (tests/conftest.py), answering already: the counts below are of requests Prefect
    # could answer.
    real = prefect_server

    @contextmanager
    def route(failures: int | None, request: tuple[str, str] = ("POST", "/api/flow_runs/")):
        EventsWorker.set_client_override(PrefectEventsClient, api_url=real)
        try:
            with (
                FlakyPrefect(real, failures, request) as flaky,
                temporary_settings({PREFECT_API_URL: flaky.url, PREFECT_CLIENT_MAX_RETRIES: 0}),
            ):
                yield flaky
        finally:
            EventsWorker.set_client_override(None)

    return route


@pytest.mark.prefect
def test_a_flow_run_prefect_refuses_for_a_moment_is_retried(engine, as_user, flaky_prefect):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    with flaky_prefect(failures=2) as flaky:
        assert execute(engine, f"intake:{cid}")
    # Two 503s, then the flow run was created: three requests, the run done once.
    assert (flaky.refused, flaky.asked) == (2, 3)
    case = staff.get(f"/cases/{cid}").json()
    assert case["flagged"] is False and "application" in [d["kind"] for d in case["documents"]]
    with Session(engine) as s:
        run = s.exec(select(ProcessRun).where(ProcessRun.key == f"intake:{cid}")).one()
    assert run.status == "completed" and run.prefect_flow_run_id


@pytest.mark.prefect
def test_prefect_refusing_for_good_flags_the_case_with_the_real_attempt_count(
    engine, as_user, flaky_prefect
) -> None:
    staff = as_user("clerk")
    body = neighbor_case(summary="相邻两户排水纠纷。")
    cid = staff.post("/cases", body).json()["id"]
    with flaky_prefect(failures=None) as flaky:
        assert not execute(engine, f"intake:{cid}")
    # Four tries (three pauses of TIAOJIE_PREFECT_API_RETRY_DELAYS), each refused: the flag says four.
    assert flaky.asked == flaky.refused == 4
    case = staff.get(f"/cases/{cid}").json()
    assert case["flagged"] is True
    assert "Prefect 接口不可用" in case["flag_reason"] and "共尝试 4 次" in case["flag_reason"]
    assert "多次重试" not in case["flag_reason"]
    assert case["summary"] == body["summary"]
    with Session(engine) as s:
        run = s.exec(select(ProcessRun).where(ProcessRun.key == f"intake:{cid}")).one()
    assert run.status == "failed" and "503" in (run.last_error or "")


@pytest.mark.prefect
def test_the_relay_waits_for_prefects_api_to_be_ready_within_a_bound(flaky_prefect) -> None:
    """What a relay does before its first run (runtime.relay.Relay._warm_up): wait until Prefect's API
    answers /ready. Refused three times, then ready: it waited for it. Refused for good: it gives up at
    its bound, not before and not long after."""
    from runtime.prefect_env import wait_for_api

    with flaky_prefect(failures=3, request=("GET", "/api/ready")) as flaky:
        assert wait_for_api(timeout=60)
    assert (flaky.refused, flaky.asked) == (3, 4)
    with flaky_prefect(failures=None, request=("GET", "/api/ready")) as flaky:
        started = time.monotonic()
        assert not wait_for_api(timeout=2)
        waited = time.monotonic() - started
    assert 2 <= waited < 10 and flaky.refused == flaky.asked >= 2
