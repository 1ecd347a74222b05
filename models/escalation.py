"""Escalations (督办 / 包案): a stalled case climbing the leadership ladder."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class Escalation(SQLModel, table=True):
    __tablename__ = "escalations"
    # One escalation per case, per stage visit, per overdue period: a rerun sweep inserts nothing.
    __table_args__ = (UniqueConstraint("case_id", "stage_seq", "period_index", name="uq_escalation_period"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    stage: str = Field(max_length=20)
    stage_seq: int
    period_index: int = Field(
        description="-1 at intake (mass / high risk), 0 for the first overdue period, …"
    )
    from_level: int
    to_level: int = Field(index=True)
    reason: str = Field(sa_type=Text)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
