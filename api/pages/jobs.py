"""Long operations (ledger export, backlog report) run in a background thread; the page polls their status.

Each job keeps a small JSON status file under `<data dir>/jobs/`: who started it, its state, a progress
figure and the file it produced. Only the user who started a job may read or download it."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.engine import Engine

from api.pages.common import (
    BACKLOG,
    LEADERS,
    PageRoute,
    engine_of,
    form_of,
    not_found,
    redirect,
    render,
    require,
)
from models.db import session_scope, utcnow
from models.settings import get_settings
from models.user import User

router = APIRouter(route_class=PageRoute)

KINDS = {"ledger": "案件台账导出", "backlog": "积案报表"}
STATE_LABELS = {"queued": "排队中", "running": "正在生成", "done": "已完成", "failed": "失败"}


def jobs_dir() -> Path:
    folder = get_settings().ensure_data_dir() / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _status_path(job_id: str) -> Path:
    return jobs_dir() / f"{job_id}.json"


def write_status(job_id: str, **values: Any) -> dict:
    path = _status_path(job_id)
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(values)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, ensure_ascii=False))
    tmp.replace(path)  # atomic: a poll never reads half a file
    return current


def read_status(job_id: str, user: User) -> dict:
    if not job_id.isalnum():
        raise not_found("任务不存在")
    path = _status_path(job_id)
    if not path.exists():
        raise not_found("任务不存在")
    status = json.loads(path.read_text())
    if status.get("user_id") != user.id:
        raise not_found("任务不存在")
    return status


def _run_ledger(engine: Engine, job_id: str, date_from: date | None, date_to: date | None) -> None:
    write_status(job_id, state="running", progress=20, message="正在汇总案件台账")
    from documents.spreadsheets import export_ledger

    out = jobs_dir() / f"{job_id}.xlsx"
    export_ledger(engine, out, date_from=date_from, date_to=date_to)
    write_status(
        job_id,
        state="done",
        progress=100,
        message="台账已生成",
        file=out.name,
        filename=f"案件台账-{utcnow().date().isoformat()}.xlsx",
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _run_backlog(engine: Engine, job_id: str, user_id: int) -> None:
    write_status(job_id, state="running", progress=20, message="正在统计积案并排版报表")
    from documents.issue import issue_document

    settings = get_settings()
    with session_scope(engine, write=True) as session:
        doc = issue_document(
            session,
            case_id=None,
            kind="backlog_report",
            subject_key=f"backlog:manual:{job_id}",
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
            actor_id=user_id,
        )
        path, doc_id = doc.path, doc.id
    write_status(
        job_id,
        state="done",
        progress=100,
        message="积案报表已生成",
        document_id=doc_id,
        file=str(path),
        filename=f"积案报表-{utcnow().date().isoformat()}.pdf",
        media_type="application/pdf",
    )


def start_job(engine: Engine, user: User, kind: str, **params: Any) -> str:
    job_id = uuid.uuid4().hex
    write_status(
        job_id,
        id=job_id,
        kind=kind,
        user_id=user.id,
        state="queued",
        progress=0,
        message="已提交",
        started_at=utcnow().isoformat(),
    )

    def work() -> None:
        try:
            if kind == "ledger":
                _run_ledger(engine, job_id, params.get("date_from"), params.get("date_to"))
            else:
                _run_backlog(engine, job_id, user.id)
        except Exception as exc:  # the page shows why; the user may start again
            write_status(job_id, state="failed", progress=100, message=f"生成失败：{exc}")

    threading.Thread(target=work, name=f"tiaojie-job-{job_id[:8]}", daemon=True).start()
    return job_id


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.post("/jobs/ledger-export", include_in_schema=False)
async def ledger_export(request: Request) -> Response:
    user = require(request, *BACKLOG)
    form = await form_of(request)
    job_id = start_job(
        engine_of(request),
        user,
        "ledger",
        date_from=_date(str(form.get("date_from") or "")),
        date_to=_date(str(form.get("date_to") or "")),
    )
    return redirect(f"/jobs/{job_id}")


@router.post("/jobs/backlog-report", include_in_schema=False)
async def backlog_report(request: Request) -> Response:
    user = require(request, *LEADERS)
    await form_of(request)
    return redirect(f"/jobs/{start_job(engine_of(request), user, 'backlog')}")


@router.get("/jobs/{job_id}", include_in_schema=False)
def job_page(job_id: str, request: Request) -> Response:
    user = require(request, *BACKLOG)
    status = read_status(job_id, user)
    return render(
        request,
        "job.html",
        {
            "job": status,
            "kind_label": KINDS.get(status["kind"], status["kind"]),
            "state_label": STATE_LABELS.get(status["state"], status["state"]),
        },
    )


@router.get("/jobs/{job_id}/status", include_in_schema=False)
def job_status(job_id: str, request: Request) -> Response:
    user = require(request, *BACKLOG)
    status = read_status(job_id, user)
    return JSONResponse(
        {
            "state": status["state"],
            "state_label": STATE_LABELS.get(status["state"]),
            "progress": status.get("progress", 0),
            "message": status.get("message", ""),
            "download": f"/jobs/{job_id}/download" if status["state"] == "done" else None,
        }
    )


@router.get("/jobs/{job_id}/download", include_in_schema=False)
def job_download(job_id: str, request: Request) -> Response:
    user = require(request, *BACKLOG)
    status = read_status(job_id, user)
    if status.get("state") != "done":
        raise not_found("文件尚未生成")
    base = get_settings().data_dir if status["kind"] == "backlog" else jobs_dir()
    path = base / status["file"]
    if not path.is_file():
        raise not_found("文件已过期，请重新生成")
    return FileResponse(
        path,
        media_type=status["media_type"],
        filename=status["filename"],
        headers={"Cache-Control": "private, no-store"},
    )
