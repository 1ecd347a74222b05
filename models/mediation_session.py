"""Mediation sessions (调解会) and their records (调解笔录).

Sessions are numbered (第N次) by date: a held session keeps its number for good (its record and
documents cite it); the sessions not yet held follow, in the order they are scheduled; a cancelled one
has no number (`seq` NULL, which the unique constraint allows) and stays in the file with its reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

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
    seq: int | None = Field(default=None, description="第N次; NULL once cancelled")
    scheduled_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    location: str = Field(max_length=120, index=True)
    held_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attendees: list[str] = Field(default_factory=list, sa_type=JSONType)
    notes: str | None = Field(default=None, sa_type=Text)
    outcome: str | None = Field(default=None, max_length=16)
    recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recorded_by: int | None = Field(default=None, foreign_key="users.id")
    # Each reschedule: the time and place given up, why, when and by whom (newest last).
    reschedules: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_by: int | None = Field(default=None, foreign_key="users.id")
    cancel_reason: str | None = Field(default=None, sa_type=Text)
    # 人民调解记录 (migration 0014). Who was present, by real name and capacity, frozen when recorded
    # (the panel may change later; the record states who was there): [{"name", "capacity"}].
    present: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    recorder_name: str | None = Field(default=None, max_length=60, description="记录人（真实姓名）")
    # Each speaker's statements in the order entered: [{"speaker", "text"}].
    statements: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    # 人民调解法 第23、24条: the mediator told the parties their rights and duties (at the first session).
    rights_told: bool = False
    # Each party's answer: [{"party", "answer", "recusal": bool, "recusal_against", "recusal_reason"}].
    party_answers: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_version)


def panel_capacity(*, role: str, appointed: bool, kind_label: str, presiding: bool) -> str:
    """How a panel member takes part, by law: only a committee's appointed 人民调解员 mediates as one
    (人民调解法 第13、19条); anyone else assists (第20条: 协助调解 by a lawyer or official, or takes
    part as an invited person)."""
    if appointed:
        return "调解主持人（人民调解员）" if presiding else "人民调解员"
    if role == "legal_advisor":
        return f"协助调解人（{kind_label}）"
    return f"参与调解人（{kind_label}）"


def recusal_asked(ms: MediationSession) -> bool | None:
    """Whether a party asked for a mediator's recusal at this session (None: the question was not put)."""
    if not ms.party_answers:
        return None
    return any(a.get("recusal") for a in ms.party_answers)


def session_numbers(sessions: Sequence[MediationSession]) -> dict[int, int | None]:
    """The 第N次 number of each session (by id): a held one keeps its number; the others, by date, take
    the smallest numbers no held session uses; a cancelled one has none."""
    numbers: dict[int, int | None] = {}
    taken = {s.seq for s in sessions if s.recorded_at is not None and s.seq is not None}
    for s in sessions:
        if s.recorded_at is not None:
            numbers[s.id or 0] = s.seq
        elif s.cancelled_at is not None:
            numbers[s.id or 0] = None
    waiting = sorted(
        (s for s in sessions if s.recorded_at is None and s.cancelled_at is None),
        key=lambda s: (s.scheduled_at, s.id or 0),
    )
    n = 0
    for s in waiting:
        n += 1
        while n in taken:
            n += 1
        numbers[s.id or 0] = n
    return numbers
