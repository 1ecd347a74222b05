"""Users and roles: staff, lawyer, leader, admin."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import version_column
from models.db import UTCDateTime, utcnow

_version = version_column()


class User(SQLModel, table=True):
    __tablename__ = "users"
    __mapper_args__ = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=60, unique=True)
    display_name: str = Field(max_length=60)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=200)
    expert_id: int | None = Field(default=None, foreign_key="experts.id")
    # Leaders: 1 中心主任, 2 镇街领导, 3 市领导; a town leader may be tied to one town.
    level: int | None = None
    town: str | None = Field(default=None, max_length=64)
    active: bool = True
    # Set by an admin's password reset: until the user picks their own password they can do nothing else.
    must_change_password: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_version)
