"""Long operations (ledger export, backlog report): start one, watch its progress, download the file.

Starting a job is one transaction (the `Job` row and its outbox row, `flows.jobs.start_job`); the relay
runs the flow; these pages only read the `Job` row. Only the user who started a job may read or
download it: anyone else gets the same 404 as for a job that does not exist."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlmodel import Session

from api.deps import IdPath
from api.html import PageError, engine_of, not_found, redirect, render
from api.pages.common import BACKLOG, LEADERS, PageRoute, form_of, require
from flows.jobs import XLSX, start_job
from models.db import id_of, session_scope, utcnow
from models.deadlines import china_date
from models.document import Document
from models.job import KINDS, STATES, Job, job_of
from models.lifecycle import DomainError
from models.settings import get_settings
from models.user import User
from runtime.relay import after_commit

router = APIRouter(route_class=PageRoute)

MESSAGES = {
    ("ledger", "queued"): "已提交，等待生成",
    ("ledger", "running"): "正在汇总案件台账",
    ("ledger", "done"): "台账已生成",
    ("backlog", "queued"): "已提交，等待生成",
    ("backlog", "running"): "正在统计积案并排版报表",
    ("backlog", "done"): "积案报表已生成",
}


def _job_for(request: Request, job_id: int, user: User) -> Job:
    with Session(engine_of(request), expire_on_commit=False) as session:
        job = job_of(session, job_id, id_of(user))
    if job is None:
        raise not_found("任务不存在")
    return job


def _message(job: Job) -> str:
    if job.state == "failed":
        return job.error or "生成失败"
    text = MESSAGES.get((job.kind, job.state), "")
    if job.state == "running" and job.kind == "ledger" and job.progress_total:
        text += f"（{job.progress_done}/{job.progress_total} 件）"
    return text


def _view(job: Job) -> dict:
    shown = {name: getattr(job, name) for name in ("id", "kind", "state")}
    return shown | {"progress": job.percent, "message": _message(job)}


def _start(request: Request, user: User, kind: str, params: dict) -> Response:
    try:
        with session_scope(engine_of(request), write=True) as session:
            job = start_job(session=session, user=user, kind=kind, params=params, now=utcnow())
    except DomainError as exc:
        raise PageError(422, exc.message) from exc
    after_commit()
    return redirect(f"/jobs/{job.id}")


@router.post("/jobs/ledger-export", include_in_schema=False)
async def ledger_export(request: Request) -> Response:
    user = require(request, *BACKLOG)
    form = await form_of(request)
    params = {"date_from": str(form.get("date_from") or ""), "date_to": str(form.get("date_to") or "")}
    return _start(request, user, "ledger", params)


@router.post("/jobs/backlog-report", include_in_schema=False)
async def backlog_report(request: Request) -> Response:
    user = require(request, *LEADERS)
    await form_of(request)
    return _start(request, user, "backlog", {})


@router.get("/jobs/{job_id}", include_in_schema=False)
def job_page(job_id: IdPath, request: Request) -> Response:
    user = require(request, *BACKLOG)
    job = _job_for(request, job_id, user)
    return render(
        request,
        "job.html",
        {"job": _view(job), "kind_label": KINDS[job.kind], "state_label": STATES[job.state]},
    )


@router.get("/jobs/{job_id}/status", include_in_schema=False)
def job_status(job_id: IdPath, request: Request) -> Response:
    user = require(request, *BACKLOG)
    job = _job_for(request, job_id, user)
    view = _view(job)
    return JSONResponse(
        {
            "state": job.state,
            "state_label": STATES[job.state],
            "progress": view["progress"],
            "done": job.progress_done,
            "total": job.progress_total,
            "message": view["message"],
            "download": f"/jobs/{job.id}/download" if job.state == "done" else None,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/jobs/{job_id}/download", include_in_schema=False)
def job_download(job_id: IdPath, request: Request) -> Response:
    user = require(request, *BACKLOG)
    job = _job_for(request, job_id, user)
    if job.state != "done":
        raise not_found("文件尚未生成")
    data_dir = Path(get_settings().data_dir)
    day = china_date(job.created_at).isoformat()
    if job.kind == "backlog":
        with Session(engine_of(request)) as session:
            doc = session.get(Document, job.document_id) if job.document_id else None
        path = data_dir / doc.path if doc is not None else None
        filename, media_type = f"积案报表-{day}.pdf", "application/pdf"
    else:
        path = data_dir / job.file_path if job.file_path else None
        filename, media_type = f"案件台账-{day}.xlsx", XLSX
    if path is None or not path.is_file():
        raise not_found("文件已过期，请重新生成")
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        headers={"Cache-Control": "private, no-store"},
    )
