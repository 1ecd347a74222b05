"""Long jobs started from the pages (ledger export, backlog report), run through the outbox like the process.

`start_job` is the action: in the caller's transaction it inserts the `Job` row and its outbox row (key
`job:<id>`); after the commit the relay runs `export_job_flow`, which moves the row along
(queued → running → done, or failed with a Chinese reason). The row is the whole status: after a
restart the relay runs a pending or stale run again, and the page keeps polling the same row.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import Flow, flow
from prefect.client.schemas.objects import FlowRun
from prefect.states import State
from sqlalchemy import update
from sqlmodel import Session, col

from flows.tasks import FLOW_RETRIES, params_of, step, write_session
from models.access import case_filter
from models.db import get_engine, session_scope, utcnow
from models.job import KINDS, Job, job_key
from models.lifecycle import DomainError, InvalidInput
from models.outbox import enqueue, flag_failed_run, mark
from models.settings import get_settings
from models.user import User

FLOW_NAME = "export-job"  # the outbox's name for it (ProcessRun.flow); see flows/registry.py
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _parse_date(value: Any, label: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{label}“{value}”不是有效日期（应为 年-月-日）", field=label) from None


def ledger_period(params: dict) -> tuple[date | None, date | None]:
    date_from = _parse_date(params.get("date_from"), "起始日期")
    date_to = _parse_date(params.get("date_to"), "截止日期")
    if date_from and date_to and date_from > date_to:
        raise InvalidInput(f"起始日期 {date_from} 晚于截止日期 {date_to}", field="date_from")
    return date_from, date_to


def start_job(*, session: Session, user: User, kind: str, params: dict, now: datetime) -> Job:
    """Record the job and its flow run in the caller's transaction; the caller calls `after_commit()`."""
    if kind not in KINDS:
        raise InvalidInput(f"未知的任务类型：{kind}", field="kind")
    if kind == "ledger":
        date_from, date_to = ledger_period(params)
        params = {
            "date_from": date_from.isoformat() if date_from else None,
            "date_to": date_to.isoformat() if date_to else None,
        }
    else:
        params = {}
    assert user.id is not None
    job = Job(kind=kind, requested_by=user.id, params=params, state="queued", created_at=now)
    session.add(job)
    session.flush()  # the id names the outbox key
    assert job.id is not None
    enqueue(session, flow=FLOW_NAME, key=job_key(job.id), case_id=None, params={"job_id": job.id})
    return job


def failure_reason(exc: BaseException) -> str:
    """What the page shows when a job failed: Chinese, and short."""
    if isinstance(exc, DomainError):
        return f"生成失败：{exc.message}"
    if isinstance(exc, OSError):
        return f"生成失败：写入文件出错（{type(exc).__name__}），请联系管理员检查数据目录后重新生成"
    return f"生成失败（{type(exc).__name__}）：{str(exc)[:300]}，请稍后重新生成"


def _update_job(job_id: int, **values: Any) -> None:
    with session_scope(get_engine()) as session:
        session.execute(update(Job).where(col(Job.id) == job_id).values(**values))


def _load(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise LookupError(f"任务 {job_id} 不存在")
    return job


def ledger_file(job: Job) -> str:
    """Where a ledger job's XLSX goes, relative to the data dir. The creation time is in the name so a
    database restored from a backup (ids counted again) never hands out another job's file."""
    return f"jobs/{job.id}-{job.created_at:%Y%m%d%H%M%S%f}.xlsx"


@step
def write_ledger(job_id: int, now_iso: str) -> int:
    """Export the ledger the requesting user may see; progress goes to the Job row per batch."""
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.spreadsheets import export_ledger

    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        job = _load(session, job_id)
        user = session.get(User, job.requested_by)
    if user is None:
        raise LookupError(f"任务 {job_id} 的申请人不存在")
    date_from, date_to = ledger_period(job.params)
    relative = ledger_file(job)
    count = export_ledger(
        engine,
        Path(get_settings().data_dir) / relative,
        date_from=date_from,
        date_to=date_to,
        now=datetime.fromisoformat(now_iso),
        actor_id=user.id,
        actor_name=user.username,
        scope=case_filter(user),
        on_progress=lambda done, total: _update_job(job_id, progress_done=done, progress_total=total),
    )
    _update_job(
        job_id,
        state="done",
        progress_done=count,
        progress_total=count,
        file_path=relative,
        finished_at=utcnow(),
        error=None,
    )
    return count


@step
def issue_backlog_report(job_id: int) -> int | None:
    """Issue the 积案报表 (archived, audited) and finish the job in the same transaction."""
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.issue import issue_document

    settings = get_settings()
    with write_session() as session:
        job = _load(session, job_id)
        doc = issue_document(
            session,
            case_id=None,
            kind="backlog_report",
            subject_key=f"backlog:job:{job_id}",
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
            actor_id=job.requested_by,
        )
        job.document_id = doc.id
        job.file_path = doc.path
        job.state = "done"
        job.progress_done = job.progress_total = 1
        job.finished_at = utcnow()
        job.error = None
        session.add(job)
        return job.document_id


def _begin(job_id: int) -> str | None:
    """Mark the job running (again, after a retry or a restart); None when it is already done."""
    with write_session() as session:
        job = session.get(Job, job_id)
        if job is None or job.state == "done":
            return None
        job.state = "running"
        job.progress_done = 0
        job.progress_total = 1 if job.kind == "backlog" else job.progress_total
        job.error = None
        job.finished_at = None
        session.add(job)
        return job.kind


# Prefect passes hooks (flow, flow_run, state); the names must match its FlowStateHook protocol.
def _job_completed(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    mark(get_engine(), flow_run.parameters["key"], status="completed")


def _job_failed(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """After the last retry: the job is failed (its reason was recorded by the flow), the run flagged."""
    key = flow_run.parameters["key"]
    job_id = params_of(key)["job_id"]
    with write_session() as session:
        job = session.get(Job, job_id)
        if job is not None and job.state != "done":
            job.state = "failed"
            job.finished_at = utcnow()
            job.error = job.error or "生成失败：后台任务未能完成，请稍后重新生成"
            session.add(job)
    flag_failed_run(get_engine(), key, str(state.message or state.name), attempts=flow_run.run_count)


@flow(
    name="tiaojie-export-job",
    **FLOW_RETRIES,
    on_completion=[_job_completed],
    on_failure=[_job_failed],
)
def export_job_flow(key: str) -> None:
    """Run one job: mark it running → write the ledger or issue the backlog report → done."""
    job_id = params_of(key)["job_id"]
    kind = _begin(job_id)
    if kind is None:
        return  # done already (a rerun after a restart): nothing twice
    try:
        if kind == "ledger":
            write_ledger(job_id, utcnow().isoformat())
        else:
            issue_backlog_report(job_id)
    except Exception as exc:
        # Kept on the row for the page; the failure hook marks the job failed after the last retry.
        _update_job(job_id, error=failure_reason(exc))
        raise
