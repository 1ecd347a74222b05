"""The 结案 decision: its kind, why, who decided and, where the center requires it, who approved it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class CaseClosing(SQLModel, table=True):
    """One 结案 decision. `approved_at` NULL: awaiting the director's 结案审批 (the case keeps its stage)."""

    __tablename__ = "case_closings"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=20, description="models.enums.CloseKind")
    note: str | None = Field(default=None, sa_type=Text)
    requested_by: int | None = Field(default=None, foreign_key="users.id", description="NULL: the system")
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    needs_approval: bool = False
    approved_by: int | None = Field(default=None, foreign_key="users.id")
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    approval_note: str | None = Field(default=None, sa_type=Text)
