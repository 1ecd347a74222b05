"""Our own record of each flow run, keyed by case and stage: the idempotency key and the flag."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from models.db import JSONType, UTCDateTime, utcnow


class ProcessRun(SQLModel, table=True):
    __tablename__ = "process_runs"
    __table_args__ = (Index("ix_process_runs_status_lease", "status", "lease_until"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    flow: str = Field(max_length=60)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    params: dict = Field(default_factory=dict, sa_type=JSONType)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    prefect_flow_run_id: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The relay worker running it and until when it holds it (renewed by its heartbeat): once the lease
    # has run out the holder is taken for dead and the run is reclaimed (migration 0013).
    claimed_by: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HolidaySchedule(SQLModel, table=True):
    """A year's State Council holiday schedule loaded by an admin (chinese-calendar lags releases)."""

    __tablename__ = "holiday_schedules"
    year: int = Field(primary_key=True)
    text: str = Field(sa_type=Text)
    loaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    loaded_by: int | None = Field(default=None, foreign_key="users.id")


class SettingValue(SQLModel, table=True):
    """Admin overrides of clock limits and thresholds (defaults live in code with their basis)."""

    __tablename__ = "setting_values"
    key: str = Field(primary_key=True, max_length=60)
    value: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="users.id")
