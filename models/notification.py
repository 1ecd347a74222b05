"""In-app notifications (待办提醒): to panel members, leaders and staff. Keyed so a rerun sends none twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    expert_id: int | None = Field(default=None, foreign_key="experts.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    text: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
