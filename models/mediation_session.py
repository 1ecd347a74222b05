"""Mediation sessions (调解会) and their records (调解笔录)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import version_column
from models.db import JSONType, UTCDateTime, utcnow

_version = version_column()


class MediationSession(SQLModel, table=True):
    __tablename__ = "mediation_sessions"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_session_seq"),
        Index("ix_sessions_window", "scheduled_at", "ends_at"),
    )
    __mapper_args__ = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    seq: int
    scheduled_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    location: str = Field(max_length=120, index=True)
    held_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attendees: list[str] = Field(default_factory=list, sa_type=JSONType)
    notes: str | None = Field(default=None, sa_type=Text)
    outcome: str | None = Field(default=None, max_length=16)
    recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recorded_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_version)
