"""以案定补: a mediated case is graded (简易 / 一般 / 重大 / 疑难), paid the grade's amount from the center's
settings, after approval level by level (the center, then the 司法所 of the case's town, then the 司法局),
unless an exclusion applies.

Decisions (documented in README "The justice bureau's side"):
- which cases: closed cases whose parties reached an agreement (written or oral: outcome `agreed`), paid
  to the presiding mediator; the month is the month of 结案 (China time);
- the proposed grade (the center sets the grade it decides, the proposal is shown beside it): 疑难 for a
  mass dispute, ≥ 10 people, an amount ≥ 1,000,000 元, four sessions or more, or a dispute reported to the
  police as liable to turn violent (人民调解法 第25条); 重大 for ≥ 5 people, ≥ 100,000 元 or three
  sessions; 一般 for a written agreement, two sessions or ≥ 10,000 元; 简易 otherwise (one session, an
  oral agreement, a small sum);
- exclusions, checked at every approval and in the ledger: an oral agreement whose session record does
  not show every party validly present (人民调解法 第28条: the record is the only proof of it); a 评查
  failed while a finding is open (paid once the center has answered every finding);
- who approves: the center's director (leader level 1) or the admin; then a reviewer whose town is the
  case's town (司法所); then a reviewer without a town (司法局). A level out of turn is a 409 naming the
  level the subsidy waits for; a role that is not the level's a 403."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Field, SQLModel

from models.db import JSONType, UTCDateTime, utcnow
from models.enums import Role, SubsidyGrade, SubsidyStatus
from models.money import Money
from models.roles import is_director
from models.user import User

# The settings holding each grade's amount (元), models/center_settings.py TUNABLES.
GRADE_SETTING = {g.value: f"subsidy_{g.value}" for g in SubsidyGrade}

# The order of approval: the status a level moves a subsidy from, and to.
LEVELS: tuple[tuple[str, str, str, str], ...] = (
    # (level, label, from status, to status)
    ("center", "调解中心", SubsidyStatus.graded.value, SubsidyStatus.center_approved.value),
    ("town", "司法所", SubsidyStatus.center_approved.value, SubsidyStatus.town_approved.value),
    ("county", "司法局", SubsidyStatus.town_approved.value, SubsidyStatus.county_approved.value),
)
PAID = SubsidyStatus.county_approved.value


class Subsidy(SQLModel, table=True):
    """One case's 以案定补: its grade, the amount at grading, and each approval."""

    __tablename__ = "subsidies"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    expert_id: int | None = Field(default=None, foreign_key="experts.id", index=True)
    mediator: str = Field(max_length=120, description="presiding mediator's name at grading")
    month: str = Field(max_length=7, index=True, description="YYYY-MM of 结案")
    proposed_grade: str = Field(max_length=16)
    grade: str = Field(max_length=16)
    amount: Decimal = Field(sa_type=Money)
    status: str = Field(default=SubsidyStatus.graded.value, max_length=20)
    # [{"level", "by" (user id), "name", "at"}] in order.
    approvals: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    graded_by: int | None = Field(default=None, foreign_key="users.id")
    graded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True)
class CaseFacts:
    """What the grade is proposed from."""

    is_mass: bool
    headcount: int
    amount: Decimal | None
    sessions: int
    written_agreement: bool
    police_reported: bool


def propose_grade(facts: CaseFacts) -> SubsidyGrade:
    amount = facts.amount or Decimal(0)
    if (
        facts.is_mass
        or facts.headcount >= 10
        or amount >= Decimal(1_000_000)
        or facts.sessions >= 4
        or facts.police_reported
    ):
        return SubsidyGrade.special
    if facts.headcount >= 5 or amount >= Decimal(100_000) or facts.sessions >= 3:
        return SubsidyGrade.major
    if facts.written_agreement or facts.sessions >= 2 or amount >= Decimal(10_000):
        return SubsidyGrade.ordinary
    return SubsidyGrade.simple


def next_level(status: str) -> tuple[str, str] | None:
    """(level, label) the subsidy waits for; None once paid."""
    for level, label, source, _ in LEVELS:
        if source == status:
            return level, label
    return None


def level_of(user: User, case_town: str) -> str | None:
    """The approval level this user may give on a case of `case_town`, or None."""
    if user.role == Role.admin or is_director(user):
        return "center"
    if user.role == Role.reviewer:
        if user.town is None:
            return "county"
        if user.town == case_town:
            return "town"
    return None


def level_label(level: str) -> str:
    return next(label for lv, label, _, _ in LEVELS if lv == level)
