"""Concurrency (numbers, panels), idempotent reruns, failed flows flag the case, the audit log."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from flows.dispatch import drain, execute, requeue_failed
from models.case import Case
from models.document import Document
from models.escalation import Escalation
from models.notification import Notification
from models.process_run import ProcessRun
from models.settings import get_settings
from tests.factories import neighbor_case, wage_case

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


def test_gap_free_numbers_under_concurrent_intake(engine, as_user):  # noqa: ANN001
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


def test_two_staff_confirm_the_same_panel_at_once(engine, as_user, experts):  # noqa: ANN001
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


def _issued(engine, cid: int) -> dict:  # noqa: ANN001
    """Everything a flow may create for a case, counted."""
    with Session(engine) as s:

        def count(model, *where) -> int:  # noqa: ANN001
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


def test_rerun_issues_nothing_twice(engine, as_user, experts):  # noqa: ANN001
    staff = as_user("clerk")
    # A mass wage dispute (escalated at intake) taken to a drafted agreement: every kind of flow runs.
    cid = staff.post("/cases", wage_case()).json()["id"]
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    members = [
        {"expert_id": experts["mediator_yuhai"], "role": "lead"},
        {"expert_id": experts["lawyer"], "role": "legal_advisor"},
        {"expert_id": experts["department"], "role": "member"},
    ]
    assert staff.put(f"/cases/{cid}/panel", {"members": members}).status_code == 200
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    sid = staff.post(f"/cases/{cid}/sessions", {"scheduled_at": when, "location": "第一调解室"}).json()["id"]
    record = {
        "held_at": when,
        "attendees": ["工人00", "公司代表"],
        "notes": "达成协议。",
        "outcome": "agreed",
    }
    assert staff.post(f"/cases/{cid}/sessions/{sid}/record", record).status_code == 200
    term = {
        "obligor": "瑞安市某建设有限公司",
        "obligee": "工人00",
        "obligation": "支付拖欠工资",
        "amount": "320000.00",
        "due_date": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
    }
    body = {"terms": [term], "performance_method": "银行转账", "performance_place": "瑞安市"}
    r = staff.post(f"/cases/{cid}/agreement", body)
    assert r.status_code == 201, r.text
    drain(engine)
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


def test_failed_flow_flags_the_case_and_keeps_the_input(engine, as_user, monkeypatch, tmp_path):  # noqa: ANN001
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


def test_audit_log_is_append_only(engine, as_user):  # noqa: ANN001
    as_user("clerk").post("/cases", neighbor_case())
    for statement in ("UPDATE audit_events SET actor_name = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))
    with Session(engine) as s:
        assert s.exec(select(Case)).first() is not None


def test_a_flow_works_on_the_database_of_its_outbox_row(engine, tmp_path, sqlite_template):  # noqa: ANN001
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
