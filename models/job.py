"""A long job a user started from a page (ledger export, backlog report): the row is its whole status.

Nothing about a job lives in memory: the page polls this row, the `export-job` flow (run through the
outbox, key `job:<id>`) moves it along, and after a restart the relay runs the flow again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, Session, SQLModel

from models.db import JSONType, UTCDateTime, utcnow

KINDS = {"ledger": "案件台账导出", "backlog": "积案报表"}
STATES = {"queued": "排队中", "running": "正在生成", "done": "已完成", "failed": "失败"}


class Job(SQLModel, table=True):
    __tablename__ = "jobs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # a key of KINDS
    requested_by: int = Field(foreign_key="users.id", index=True)
    params: dict = Field(default_factory=dict, sa_type=JSONType)
    state: str = Field(default="queued", max_length=16)  # a key of STATES
    progress_done: int = 0
    progress_total: int = 0
    # Ledger: the XLSX, relative to the data dir. Backlog report: the issued Document (archived PDF).
    file_path: str | None = Field(default=None, max_length=300)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        if self.progress_total <= 0:
            return 0
        return min(99, self.progress_done * 100 // self.progress_total)


def job_key(job_id: int) -> str:
    """The outbox key of a job's flow run."""
    return f"job:{job_id}"


def job_of(session: Session, job_id: int, user_id: int) -> Job | None:
    """The job if this user started it; None otherwise (the caller answers 404 either way: no leak)."""
    job = session.get(Job, job_id)
    return job if job is not None and job.requested_by == user_id else None
