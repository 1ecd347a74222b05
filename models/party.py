"""Parties (当事人) and their agents."""

from __future__ import annotations

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from models.base import version_column

_version = version_column()


class Party(SQLModel, table=True):
    __tablename__ = "parties"
    __mapper_args__ = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    role: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    name: str = Field(max_length=120, index=True)
    id_number: str | None = Field(default=None, max_length=18, index=True)
    phone: str | None = Field(default=None, max_length=20, index=True)
    org_code: str | None = Field(default=None, max_length=18, index=True)
    address: str | None = Field(default=None, sa_type=Text)
    legal_representative: str | None = Field(default=None, max_length=60)
    employer: str | None = Field(default=None, max_length=120, description="for conflict checks")
    agent_name: str | None = Field(default=None, max_length=60)
    # A lawyer of the expert bank acting as this party's agent sees the case (CONTRACT: lawyer access).
    agent_expert_id: int | None = Field(default=None, foreign_key="experts.id", index=True)
    # 信访工作条例 第20条第三款 (models/law.py petition_20_3): at most 5 representatives.
    is_representative: bool = Field(default=False, description="信访代表（至多5名）")
    version: int = Field(default=1, sa_column=_version)
