"""Long jobs (ledger export, backlog report) through the outbox: the Job row is the status, a restart
loses nothing, only the user who started a job may see it, and a failure is reported in Chinese."""

from __future__ import annotations

import io
import re
import shutil
from datetime import timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows.jobs import ledger_file, start_job
from models.audit import AuditEvent
from models.case import Case
from models.db import make_engine, session_scope, utcnow
from models.job import Job, job_key
from models.process_run import ProcessRun
from models.settings import get_settings
from models.user import User
from runtime.relay import drain, execute, pending_keys
from tests.factories import neighbor_case, register
from tests.pages.conftest import csrf_of
from tests.support.pdf import pdf_text


def _cases(engine: Engine, clerk_id: int) -> dict[str, list[int]]:
    """Two cases in 玉海街道 (the town leader's), three in 塘下镇."""
    now = utcnow()
    towns = {"玉海街道": [], "塘下镇": []}
    for i, town in enumerate(["玉海街道", "塘下镇", "玉海街道", "塘下镇", "塘下镇"]):
        towns[town].append(
            register(engine, neighbor_case(town=town), actor_id=clerk_id, now=now - timedelta(i))
        )
    return towns


def _job(engine: Engine, job_id: int) -> Job:
    with Session(engine) as session:
        return session.get(Job, job_id)


def _fresh_engine(engine: Engine) -> Engine:
    """What a restarted process has: a new engine (new connections) on the same database."""
    return make_engine(engine.url.render_as_string(hide_password=False))


def test_ledger_job_survives_a_restart_and_shows_only_the_requesters_cases(engine, users, browser_for):
    towns = _cases(engine, users["clerk"])
    leader = browser_for("yuhai")  # the 玉海街道 leader: sees the cases of that town only
    token = csrf_of(leader.get("/dashboard").text)
    r = leader.post("/jobs/ledger-export", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    job_id = int(url.rsplit("/", 1)[1])
    key = job_key(job_id)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        run = session.exec(select(ProcessRun).where(ProcessRun.key == key)).one()
    assert (job.state, job.requested_by, job.kind) == ("queued", users["yuhai"], "ledger")
    assert (run.flow, run.status, run.params) == ("export-job", "pending", {"job_id": job_id})

    # The process that picked the run up died halfway: the outbox row says running, the job too.
    with session_scope(engine) as session:
        session.execute(
            update(ProcessRun)
            .where(ProcessRun.key == key)
            .values(status="running", attempts=1, created_at=utcnow() - timedelta(hours=1))
        )
        session.execute(update(Job).where(Job.id == job_id).values(state="running", progress_total=2))
    status = leader.get(f"{url}/status").json()
    assert status["state"] == "running" and status["download"] is None
    assert "正在汇总案件台账" in status["message"]

    restarted = _fresh_engine(engine)
    try:
        assert key in pending_keys(restarted)  # a stale run is taken up again
        drain(restarted)
        job = _job(restarted, job_id)
        assert job.state == "done" and job.error is None and job.finished_at is not None
        assert job.progress_done == job.progress_total == len(towns["玉海街道"])
        assert job.file_path == ledger_file(job)
        with Session(restarted) as session:
            assert session.exec(select(ProcessRun.status).where(ProcessRun.key == key)).one() == "completed"
            expected_numbers = sorted(
                session.exec(select(Case.case_no).where(Case.id.in_(towns["玉海街道"]))).all()
            )
            audit = session.exec(select(AuditEvent).where(AuditEvent.action == "ledger.export")).all()
        assert [(a.actor_id, a.after["cases"]) for a in audit] == [(users["yuhai"], 2)]

        status = leader.get(f"{url}/status").json()
        assert status["state"] == "done" and status["progress"] == 100
        assert (status["done"], status["total"]) == (2, 2)
        xlsx = leader.get(status["download"])
        assert xlsx.status_code == 200
        assert "attachment" in xlsx.headers["content-disposition"]
        sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        assert len(rows) == 2 + len(towns["玉海街道"])  # title, header, one row per visible case
        assert rows[1][0] == "案件编号"
        assert sorted(row[0] for row in rows[2:]) == expected_numbers
        assert {row[4] for row in rows[2:]} == {"玉海街道"}

        # Run again (another relay pass, another restart): nothing is exported twice.
        assert drain(restarted) == 0
        assert execute(restarted, key) is True
        with Session(restarted) as session:
            assert (
                len(session.exec(select(AuditEvent).where(AuditEvent.action == "ledger.export")).all()) == 1
            )
    finally:
        restarted.dispose()

    # Nobody else may read or download it, not even the center's director (who sees every case).
    for other in ("director", "clerk"):
        browser = browser_for(other)
        for path in (url, f"{url}/status", f"{url}/download"):
            response = browser.get(path)
            assert response.status_code == 404, (other, path)
            assert "任务不存在" in response.text
    assert leader.get("/jobs/999999/status").status_code == 404


def test_backlog_report_job_issues_the_pdf(engine, users, browser_for) -> None:
    _cases(engine, users["clerk"])
    director = browser_for("director")
    token = csrf_of(director.get("/dashboard").text)
    r = director.post("/jobs/backlog-report", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    assert director.get(f"{url}/status").json()["state"] == "queued"
    drain(engine)
    status = director.get(f"{url}/status").json()
    assert status["state"] == "done", status
    pdf = director.get(status["download"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    assert "积案" in text
    job = _job(engine, int(url.rsplit("/", 1)[1]))
    assert job.document_id is not None and (job.progress_done, job.progress_total) == (1, 1)
    assert browser_for("yuhai").get(f"{url}/download").status_code == 404
    # Staff may export the ledger but not order the leaders' report.
    clerk = browser_for("clerk")
    r = clerk.post("/jobs/backlog-report", data={"csrf_token": csrf_of(clerk.get("/cases").text)})
    assert r.status_code == 403


def test_failing_job_is_marked_failed_with_a_chinese_reason(engine, users, browser_for) -> None:
    _cases(engine, users["clerk"])
    with session_scope(engine, write=True) as session:
        job = start_job(
            session=session, user=session.get(User, users["clerk"]), kind="ledger", params={}, now=utcnow()
        )
        job_id = job.id
    # The disk refuses the file: a directory stands where the XLSX must go.
    target = Path(get_settings().data_dir) / ledger_file(job)
    target.mkdir(parents=True)
    try:
        drain(engine)
    finally:
        shutil.rmtree(target)
    job = _job(engine, job_id)
    assert job.state == "failed" and job.finished_at is not None
    assert job.error.startswith("生成失败：写入文件出错")
    assert re.search(r"[\u4e00-\u9fff]", job.error)
    with Session(engine) as session:
        run = session.exec(select(ProcessRun).where(ProcessRun.key == job_key(job_id))).one()
    assert run.status == "failed"

    clerk = browser_for("clerk")
    status = clerk.get(f"/jobs/{job_id}/status").json()
    assert status["state"] == "failed" and status["state_label"] == "失败"
    assert status["message"] == job.error and status["download"] is None
    assert "生成失败" in clerk.get(f"/jobs/{job_id}").text
    assert clerk.get(f"/jobs/{job_id}/download").status_code == 404


def test_bad_dates_are_refused_before_a_job_is_queued(engine, users, browser_for) -> None:
    clerk = browser_for("clerk")
    token = csrf_of(clerk.get("/cases").text)
    for data, reason in (
        ({"date_from": "2026-12-01", "date_to": "2026-11-01"}, "晚于截止日期"),
        ({"date_from": "2026-13-01"}, "不是有效日期"),
    ):
        r = clerk.post("/jobs/ledger-export", data={"csrf_token": token, **data}, follow_redirects=False)
        assert r.status_code == 422 and reason in r.text
    with Session(engine) as session:
        assert session.exec(select(Job)).all() == []
        assert session.exec(select(ProcessRun).where(ProcessRun.flow == "export-job")).all() == []
