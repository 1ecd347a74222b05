"""The case (案件): one dispute from registration to closing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Index, Insert, Text, UniqueConstraint, text
from sqlmodel import Field, Session, SQLModel

from models.base import version_column
from models.db import JSONType, UTCDateTime, table_of, utcnow
from models.enums import Stage
from models.lifecycle import OPEN_STAGES
from models.money import Money

_version = version_column()
# The open backlog's partial index, from the one stage list (models/lifecycle.py).
OPEN_STAGES_SQL = "stage IN ({})".format(", ".join(f"'{s.value}'" for s in Stage if s in OPEN_STAGES))


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("center_code", "case_year", "case_seq", name="uq_case_number"),
        # The escalation sweep reads only this index (see flows/escalation.py).
        Index("ix_cases_next_escalation_at", "next_escalation_at"),
        Index("ix_cases_stage_due", "stage", "stage_due_at"),
        Index("ix_cases_town_stage", "town", "stage"),
        # The dashboard reads these indexes only (index-only scans at province scale):
        # closings of the last year by outcome and days taken, intakes by week, the open backlog.
        Index("ix_cases_closed_stats", "closed_at", "outcome", "days_to_close", "town"),
        Index("ix_cases_created_at", "created_at", "town"),
        Index(
            "ix_cases_open_backlog",
            "stage",
            "category",
            "town",
            "created_at",
            "escalation_level",
            "stage_due_at",
            "clock_paused_since",
            postgresql_where=text(OPEN_STAGES_SQL),
            sqlite_where=text(OPEN_STAGES_SQL),
        ),
    )
    __mapper_args__ = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True)
    case_no: str | None = Field(default=None, unique=True, max_length=40)
    center_code: str = Field(max_length=16)
    case_year: int
    case_seq: int

    stage: str = Field(max_length=20, index=True)
    stage_seq: int = Field(default=1, description="increments on every transition; keys escalations")
    stage_entered_at: datetime = Field(sa_type=UTCDateTime)
    stage_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_escalation_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(
        default=None, max_length=20, description="agreed / failed / withdrawn / rejected"
    )

    category: str = Field(max_length=32, index=True)
    channel: str = Field(max_length=32)
    town: str = Field(max_length=64)
    village: str | None = Field(default=None, max_length=64)
    summary: str = Field(sa_type=Text)
    claims: str | None = Field(default=None, sa_type=Text)
    facts: str | None = Field(default=None, sa_type=Text)
    amount_involved: Decimal | None = Field(default=None, sa_type=Money)
    headcount: int = 1
    is_mass: bool = False
    risk_level: str = Field(default="low", max_length=16)
    risk_reasons: list[str] = Field(default_factory=list, sa_type=JSONType)
    # 人民调解法 第25条 (models/law.py pml_25): a dispute that may turn violent is reported to the police.
    police_reported: bool = Field(default=False, description="可能激化的纠纷已报告公安机关")

    referral_kind: str | None = Field(default=None, max_length=32)
    referral_reference: str | None = Field(default=None, max_length=120)

    clock: str = Field(max_length=40)
    clock_started_on: date | None = None
    clock_due_on: date | None = None
    clock_extension_days: int = 0
    clock_paused_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    clock_paused_days: int = 0  # calendar days a calendar-day clock stood still
    # Working days a working-day clock (医疗纠纷预防和处理条例 第38条) stood still: the appraisal.
    clock_paused_workdays: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    escalation_level: int = 0
    # The 结案 decision's kind (models.enums.CloseKind); set while awaiting approval too (stage not closed).
    close_kind: str | None = Field(default=None, max_length=20)
    rejection_reason: str | None = Field(default=None, sa_type=Text)
    # 不予受理: the 2002 规定 第22条 reason (enums.RejectionReason); `rejection_reason` is the free text.
    rejection_reason_code: str | None = Field(default=None, max_length=32)
    # 人民调解法 第17条: the respondent's answer to the 征询 (None: not yet); a refusal ends the case.
    respondent_agrees: bool | None = None
    respondent_answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    respondent_note: str | None = Field(default=None, sa_type=Text)

    # A flow that finally failed leaves the case flagged; the user's input stays untouched.
    flagged: bool = False
    flag_reason: str | None = Field(default=None, sa_type=Text)

    created_by: int | None = Field(default=None, foreign_key="users.id")
    # The intake timestamp interrupts the limitation period (民法典 第195条): never editable.
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    days_to_close: int | None = Field(default=None, description="calendar days from intake to closing")
    version: int = Field(default=1, sa_column=_version)


class CaseNumberCounter(SQLModel, table=True):
    """Gap-free numbering per center and year: the row is locked while a number is taken."""

    __tablename__ = "case_number_counters"
    center_code: str = Field(primary_key=True, max_length=16)
    year: int = Field(primary_key=True)
    last_seq: int = 0


def next_seq(session: Session, *, key: str, year: int) -> int:
    """Take the next number of the series `key` in `year` (the center's case numbers, a committee's
    document numbers). The counter row stays locked until the action commits, so numbers are gap-free
    under concurrency: a rolled-back action gives its number back."""
    table = table_of(CaseNumberCounter)
    keys = [table.c.center_code, table.c.year]
    bump = {"last_seq": table.c.last_seq + 1}
    # The two dialects' Insert classes are distinct types with the same on_conflict_do_update().
    upsert: Insert
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        upsert = pg_insert(table).on_conflict_do_update(index_elements=keys, set_=bump)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        upsert = sqlite_insert(table).on_conflict_do_update(index_elements=keys, set_=bump)
    return int(
        session.execute(
            upsert.returning(table.c.last_seq), {"center_code": key, "year": year, "last_seq": 1}
        ).scalar_one()
    )


class CaseLink(SQLModel, table=True):
    """A related or repeat case found at intake (same ID number / phone / org code)."""

    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("case_id", "related_case_id", "reason", name="uq_case_link"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    related_case_id: int = Field(foreign_key="cases.id")
    reason: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ClockEvent(SQLModel, table=True):
    """Consent-based extension or a pause (e.g. waiting on an appraisal) of the case's legal clock."""

    __tablename__ = "clock_events"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=16, description="extend / pause / resume")
    # extend: calendar days; pause: the days left when it stopped; resume: the days it stood still
    # (pause and resume in the clock's unit: working days for a working-day clock).
    days: int = 0
    note: str = Field(sa_type=Text)
    # pause / resume: the day it took effect (appraisal commissioned / opinion received).
    effective_on: date | None = None
    due_on: date | None = None  # the case's last day after this event (None while paused)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="users.id")


class LegalOpinion(SQLModel, table=True):
    """A lawyer's opinion on a case or review of the agreement's terms before signing."""

    __tablename__ = "legal_opinions"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    author_id: int = Field(foreign_key="users.id")
    kind: str = Field(default="opinion", max_length=20, description="opinion / agreement_review")
    approved: bool | None = None
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The draft (agreements.revision) the opinion was given on; NULL: no draft yet, or given before v1.2.
    agreement_revision: int | None = None
