"""The expert bank (专家库): mediators, lawyers, judges, departments, elders, studios."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import version_column
from models.db import JSONType, UTCDateTime, utcnow

_expert_version = version_column()


class Expert(SQLModel, table=True):
    __tablename__ = "experts"
    __mapper_args__ = {"version_id_col": _expert_version}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, index=True)
    kind: str = Field(max_length=20)
    organization: str | None = Field(default=None, max_length=120)
    towns: list[str] = Field(default_factory=list, sa_type=JSONType)
    village: str | None = Field(default=None, max_length=64)
    specialties: list[str] = Field(default_factory=list, sa_type=JSONType)
    max_active_cases: int = 5
    id_number: str | None = Field(default=None, max_length=18)
    phone: str | None = Field(default=None, max_length=20)
    declared_relations: list[dict] = Field(default_factory=list, sa_type=JSONType)
    room: str | None = Field(default=None, max_length=120, description="品牌调解室 / 工作室")
    # 人民调解法 第13、19条: only the committee's members and the mediators it appoints are 人民调解员;
    # anyone else (judge, official, lawyer, 乡贤) only assists (第20条) and never presides or signs as one.
    appointed_mediator: bool = False
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_expert_version)


class PanelMember(SQLModel, table=True):
    """A seat on a case's panel (专班). Removed members stay, inactive, for the record."""

    __tablename__ = "panel_members"
    __table_args__ = (UniqueConstraint("case_id", "expert_id", "seated_at", name="uq_panel_seat"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    expert_id: int = Field(foreign_key="experts.id", index=True)
    role: str = Field(max_length=20)
    active: bool = True
    seated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    removed_reason: str | None = Field(default=None, sa_type=Text)


class Recusal(SQLModel, table=True):
    """A party's request that an expert step aside (特邀调解规定 第15条) and what replaced them."""

    __tablename__ = "recusals"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    expert_id: int = Field(foreign_key="experts.id")
    reason: str = Field(sa_type=Text)
    replaced_by_expert_id: int | None = Field(default=None, foreign_key="experts.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
