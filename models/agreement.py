"""The mediation agreement (人民调解协议书), its terms and the follow-up visits (回访)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import version_column
from models.db import UTCDateTime, utcnow

_version = version_column()


class Agreement(SQLModel, table=True):
    __tablename__ = "agreements"
    __mapper_args__ = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    facts: str | None = Field(default=None, sa_type=Text)
    disputes: str | None = Field(default=None, sa_type=Text)
    responsibility: str | None = Field(default=None, sa_type=Text)
    performance_method: str = Field(sa_type=Text)
    performance_place: str | None = Field(default=None, max_length=200)
    # 婚姻、收养、继承: signed in ink, never electronically.
    ink_only: bool = False
    revision: int = Field(default=1, description="corrected before signing → a new document version")
    issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_version)


class AgreementTerm(SQLModel, table=True):
    __tablename__ = "agreement_terms"
    __table_args__ = (UniqueConstraint("agreement_id", "seq", name="uq_term_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreements.id", index=True)
    seq: int
    obligor: str = Field(max_length=120)
    obligation: str = Field(sa_type=Text)
    amount: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)
    due_date: date | None = None
    performed: bool = False
    performed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FollowUp(SQLModel, table=True):
    """A follow-up visit (回访记录): the committee supervises performance (人民调解法 第31条)."""

    __tablename__ = "follow_ups"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    term_id: int | None = Field(default=None, foreign_key="agreement_terms.id")
    performed: bool
    notes: str | None = Field(default=None, sa_type=Text)
    visited_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
