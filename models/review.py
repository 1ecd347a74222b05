"""评查: the justice bureau's review of a random sample of closed cases, scored on fixed dimensions, with
findings the center answers on the case.

Decisions (documented in README "The justice bureau's side"):
- the sample: closed cases of the reviewer's scope whose 结案 day (China time) lies in [from, to]; its size
  is ceil(ratio × n), at least 1 when n > 0; drawn with `random.Random(seed)` over the cases in id order,
  the seed kept on the sample so the draw can be repeated and checked;
- a review passes when its total (seven dimensions, 0–10 each) reaches the pass mark of the center's
  settings (`review_pass_total`, default 42 of 70) and no finding is open; it is failed while a finding is
  open or the total is below the mark; a failed review whose findings are all answered is 已整改
  (rectified). A total below the mark must come with at least one finding: the center answers findings,
  so a failure without one could never be put right."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, Text

from models.db import JSONType, UTCDateTime, utcnow
from models.enums import ReviewDimension, ReviewStatus
from models.lifecycle import InvalidInput

MAX_SCORE = 10
DIMENSIONS = tuple(d.value for d in ReviewDimension)
FULL_MARKS = MAX_SCORE * len(DIMENSIONS)


class ReviewSample(SQLModel, table=True):
    """One draw: the period, the ratio, the seed and how many closed cases it was drawn from."""

    __tablename__ = "review_samples"
    id: int | None = Field(default=None, primary_key=True)
    date_from: date
    date_to: date
    ratio: str = Field(max_length=12, description="the share drawn, e.g. 0.1")
    seed: str = Field(max_length=64)
    population: int = Field(description="closed cases of the scope in the period")
    scope_town: str | None = Field(default=None, max_length=64, description="NULL: the whole county")
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Review(SQLModel, table=True):
    """One sampled case's 评查: its scores, note and status."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("sample_id", "case_id", name="uq_review_sample_case"),)
    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="review_samples.id", index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    # {dimension: 0–10}; empty until scored.
    scores: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    total: int | None = None
    pass_mark: int | None = Field(default=None, description="the pass mark in force when it was scored")
    note: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default=ReviewStatus.pending.value, max_length=16)
    scored_by: int | None = Field(default=None, foreign_key="users.id")
    scored_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReviewFinding(SQLModel, table=True):
    """A problem the reviewer found; the center answers it on the case (整改情况)."""

    __tablename__ = "review_findings"
    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="reviews.id", index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    text: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    answer: str | None = Field(default=None, sa_type=Text)
    answered_by: int | None = Field(default=None, foreign_key="users.id")
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def parse_ratio(value: str | Decimal | float) -> Decimal:
    try:
        ratio = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput("抽查比例应为 0 到 1 之间的小数，如 0.1 表示 10%", field="ratio") from None
    if not ratio.is_finite() or not Decimal(0) < ratio <= Decimal(1):
        raise InvalidInput("抽查比例应大于 0、不超过 1（如 0.1 表示 10%）", field="ratio")
    return ratio.quantize(Decimal("0.0001"))


def sample_size(population: int, ratio: Decimal) -> int:
    """ceil(ratio × n), at least one case when there is any (a 10% sample of 7 cases is 1, not 0)."""
    if population <= 0:
        return 0
    return max(1, min(population, math.ceil(Decimal(population) * ratio)))


def draw(case_ids: Sequence[int], ratio: Decimal, seed: str) -> list[int]:
    """The sampled case ids, in id order: the same ids, ratio and seed always draw the same cases."""
    ordered = sorted(case_ids)
    picked = random.Random(seed).sample(ordered, sample_size(len(ordered), ratio))
    return sorted(picked)


def review_status(*, total: int | None, pass_mark: int | None, open_findings: int, findings: int) -> str:
    if total is None:
        return ReviewStatus.pending.value
    below = pass_mark is not None and total < pass_mark
    if open_findings:
        return ReviewStatus.failed.value
    if below or findings:
        # Findings all answered (a score below the mark always has one): put right.
        return ReviewStatus.rectified.value if findings else ReviewStatus.failed.value
    return ReviewStatus.passed.value
