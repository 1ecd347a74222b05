"""The leaders' backlog figures (dashboard, weekly 积案报表), read from the rollups that triggers keep in
step with every change of a case (models/rollups.py), so a call costs a few thousand counter rows at
province scale instead of scans of the cases:

- the open backlog by stage, level, category, town and 群体性: `rollup_case_state`;
- the open backlog's age and the weekly intake trend: `rollup_intake_days`, with the four age cut-offs
  (which fall inside a day) counted exactly from the open cases registered on those days;
- overdue (depends on `now` to the second): counted from the overdue cases themselves through the
  partial index `ix_cases_overdue_watch`, a read proportional to the overdue cases;
- the last 365 days' closings by outcome and the closing-time median: `rollup_closed_weeks` and
  `rollup_close_days` for the weeks the window touches, corrected by the raw closings
  (`ix_cases_closed_stats`, index-only) of the part of its first week outside or inside the window,
  whichever is shorter, and those after `now` in its last week (none when `now` is the present);
- 督办中 by level: the open cases with an unresolved 督办 (`supervised_sql`, few rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, func, literal, select
from sqlalchemy import case as sa_case
from sqlalchemy.sql.elements import Case as SqlCase
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from models.case import Case
from models.case_queries import supervised_sql
from models.deadlines import OPEN_STAGE_VALUES, open_sql, overdue_sql
from models.enums import Category, Stage
from models.lifecycle import OPEN_STAGES
from models.rollups import (
    ALL_TOWNS,
    MEDIATED,
    RollupCaseState,
    RollupCloseDays,
    RollupClosedWeek,
    RollupIntakeDay,
)

__all__ = ["AGE_BUCKETS", "MEDIATED", "RATE_WINDOW_DAYS", "TREND_WEEKS", "backlog_summary"]

CHINA = ZoneInfo("Asia/Shanghai")
AGE_BUCKETS = [
    (0, 7, "7日内"),
    (8, 15, "8–15日"),
    (16, 30, "16–30日"),
    (31, 60, "31–60日"),
    (61, None, "60日以上"),
]
TREND_WEEKS = 12
RATE_WINDOW_DAYS = 365


def _cutoffs(now: datetime) -> list[tuple[datetime, str]]:
    """A case is in a bucket when registered after its cut-off (and not after a younger bucket's)."""
    return [(now - timedelta(days=high + 1), label) for _, high, label in AGE_BUCKETS if high is not None]


def _age_bucket(now: datetime) -> SqlCase[str]:
    whens: list[tuple[ColumnElement[bool], ColumnElement[str]]] = [
        (col(Case.created_at) > cutoff, literal(label)) for cutoff, label in _cutoffs(now)
    ]
    return sa_case(*whens, else_=literal(AGE_BUCKETS[-1][2]))


def _china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _trend_start(now: datetime) -> datetime:
    """00:00 China time of the Monday TREND_WEEKS - 1 weeks before this week's (weeks run Monday–Sunday)."""
    first = _monday(_china_date(now)) - timedelta(weeks=TREND_WEEKS - 1)
    return datetime.combine(first, time(0), tzinfo=CHINA)  # China time: `week_start` prints its date


def _window(now: datetime) -> tuple[date, date, list[tuple[datetime, datetime, int]]]:
    """The 365-day window as whole rollup weeks `first`..`last` (inclusive) corrected by raw closings:
    (from, to, sign) ranges, `from` inclusive, `to` exclusive, of closings to add (+1) or take away (-1).

    The last week is counted whole and the closings after `now` taken away (none, when `now` is the
    present); at the start, the shorter side of `since` within its week is read from the cases."""
    since = now - timedelta(days=RATE_WINDOW_DAYS)
    start_week = _monday(_china_date(since))
    a, b = _day_start(start_week), _day_start(start_week + timedelta(weeks=1))
    last = _monday(_china_date(now))
    after_now = (now + timedelta(microseconds=1), _day_start(last + timedelta(weeks=1)), -1)
    if since - a <= b - since:
        return start_week, last, [(a, since, -1), after_now]
    return start_week + timedelta(weeks=1), last, [(since, b, 1), after_now]


def _statements(now: datetime, town: str | None) -> dict[str, Select]:
    """The reads behind the figures, each a small range of a rollup or an index."""
    scope: list[ColumnElement[bool]] = [col(Case.town) == town] if town else []
    first_week, last_week, edges = _window(now)
    trend_start = _china_date(_trend_start(now))
    cutoffs = _cutoffs(now)
    oldest_day = min(trend_start, _china_date(cutoffs[-1][0]))

    state = select(
        col(RollupCaseState.stage),
        col(RollupCaseState.escalation_level),
        col(RollupCaseState.category),
        col(RollupCaseState.town),
        col(RollupCaseState.n),
        col(RollupCaseState.n_mass),
    ).where(col(RollupCaseState.stage).in_(OPEN_STAGE_VALUES))
    intake = select(
        col(RollupIntakeDay.day), func.sum(RollupIntakeDay.n), func.sum(RollupIntakeDay.n_open)
    ).where(col(RollupIntakeDay.day) >= oldest_day)
    closed = select(
        col(RollupClosedWeek.week), col(RollupClosedWeek.outcome), func.sum(RollupClosedWeek.n)
    ).where(col(RollupClosedWeek.week) >= min(first_week, trend_start))
    close_days = (
        select(col(RollupCloseDays.days_to_close), func.sum(RollupCloseDays.n))
        .where(
            col(RollupCloseDays.town) == (town or ALL_TOWNS),
            col(RollupCloseDays.week) >= first_week,
            col(RollupCloseDays.week) <= last_week,
        )
        .group_by(col(RollupCloseDays.days_to_close))
    )
    if town:
        state = state.where(col(RollupCaseState.town) == town)
        intake = intake.where(col(RollupIntakeDay.town) == town)
        closed = closed.where(col(RollupClosedWeek.town) == town)
    # Exactly at each age cut-off's day: the open cases registered after the cut-off on that day.
    edge_counts = [
        select(func.count())
        .where(
            open_sql(),
            col(Case.created_at) > cutoff,
            col(Case.created_at) < _day_start(_china_date(cutoff) + timedelta(days=1)),
            *scope,
        )
        .scalar_subquery()
        for cutoff, _ in cutoffs
    ]
    return {
        "state": state,
        "supervised": select(col(Case.escalation_level), func.count())
        .where(supervised_sql(), *scope)
        .group_by(col(Case.escalation_level)),
        "overdue": select(col(Case.category), col(Case.town), _age_bucket(now).label("age"), func.count())
        .where(overdue_sql(now), *scope)
        .group_by(col(Case.category), col(Case.town), "age"),
        "intake": intake.group_by(col(RollupIntakeDay.day)),
        "age_edges": select(*edge_counts),
        "closed": closed.group_by(col(RollupClosedWeek.week), col(RollupClosedWeek.outcome)),
        "close_days": close_days,
        # Microseconds, not `<=`: both databases store instants to the microsecond.
        **{
            f"closings_edge_{i}": select(col(Case.outcome), col(Case.days_to_close), func.count())
            .where(col(Case.closed_at) >= low, col(Case.closed_at) < high, *scope)
            .group_by(col(Case.outcome), col(Case.days_to_close))
            for i, (low, high, _sign) in enumerate(edges)
        },
    }


def backlog_summary(session: Session, *, now: datetime, town: str | None = None) -> dict:
    rows: dict[str, Sequence[Row]] = {
        name: session.execute(stmt).all() for name, stmt in _statements(now, town).items()
    }
    first_week, last_week, edges = _window(now)
    start = _trend_start(now)
    trend_start = _china_date(start)

    # The open backlog (rollup_case_state).
    by_stage: dict[str, int] = {s.value: 0 for s in Stage if s in OPEN_STAGES}
    by_category: dict[str, int] = {}
    by_town: dict[str, int] = {}
    mass_by_category: dict[str, int] = {}
    mass_by_town: dict[str, int] = {}
    for stage, _level, category, case_town, n, n_mass in rows["state"]:
        by_stage[stage] = by_stage.get(stage, 0) + n
        by_category[category] = by_category.get(category, 0) + n
        by_town[case_town] = by_town.get(case_town, 0) + n
        mass_by_category[category] = mass_by_category.get(category, 0) + n_mass
        mass_by_town[case_town] = mass_by_town.get(case_town, 0) + n_mass
    open_total = sum(by_stage.values())
    mass_open = sum(mass_by_town.values())

    by_level: dict[int, int] = {1: 0, 2: 0, 3: 0}
    for level, count in rows["supervised"]:
        by_level[level] = by_level.get(level, 0) + count

    # Overdue (from the cases: depends on `now`).
    overdue_by_category: dict[str, int] = {}
    overdue_by_town: dict[str, int] = {}
    overdue_by_age: dict[str, int] = {label: 0 for _, _, label in AGE_BUCKETS}
    for category, case_town, label, count in rows["overdue"]:
        overdue_by_category[category] = overdue_by_category.get(category, 0) + count
        overdue_by_town[case_town] = overdue_by_town.get(case_town, 0) + count
        overdue_by_age[label] += count
    overdue_total = sum(overdue_by_age.values())

    # Age: open cases registered after each cut-off = whole days after its day + the edge of its day.
    open_on: dict[date, int] = {}
    counts_in: dict[int, int] = {}
    for day, n, n_open in rows["intake"]:
        open_on[day] = int(n_open or 0)
        week = (day - trend_start).days // 7
        if 0 <= week < TREND_WEEKS:
            counts_in[week] = counts_in.get(week, 0) + int(n or 0)
    age_edges = rows["age_edges"][0]
    younger = 0
    by_age: dict[str, int] = {}
    for (cutoff, label), edge in zip(_cutoffs(now), age_edges, strict=True):
        cut_day = _china_date(cutoff)
        after = sum(n for day, n in open_on.items() if day > cut_day) + int(edge or 0)
        by_age[label] = after - younger
        younger = after
    by_age[AGE_BUCKETS[-1][2]] = open_total - younger

    # Closings of the last 365 days: whole weeks from the rollups, corrected at the ends from the cases.
    by_outcome: dict[str, int] = {}
    counts_out: dict[int, int] = {}
    for week_start, outcome, n in rows["closed"]:
        n = int(n or 0)
        if first_week <= week_start <= last_week:
            by_outcome[outcome] = by_outcome.get(outcome, 0) + n
        week = (week_start - trend_start).days // 7
        if 0 <= week < TREND_WEEKS:
            counts_out[week] = counts_out.get(week, 0) + n
    durations: dict[int, int] = {int(d): int(n) for d, n in rows["close_days"] if n}
    for i, (_low, _high, sign) in enumerate(edges):
        for outcome, days, count in rows[f"closings_edge_{i}"]:
            by_outcome[outcome or ""] = by_outcome.get(outcome or "", 0) + sign * count
            if outcome in MEDIATED and days is not None:
                durations[days] = durations.get(days, 0) + sign * count
    durations = {d: n for d, n in durations.items() if n}
    by_outcome = {k: v for k, v in by_outcome.items() if v}
    agreed = by_outcome.get("agreed", 0)
    failed = by_outcome.get("failed", 0) + by_outcome.get("withdrawn", 0)
    closed = sum(by_outcome.values())
    median = _median_of_histogram(durations)

    trend = [
        {
            "week_start": (start + timedelta(weeks=i)).date().isoformat(),
            "in": counts_in.get(i, 0),
            "out": counts_out.get(i, 0),
        }
        for i in range(TREND_WEEKS)
    ]
    by_category = _ranked(by_category)
    return {
        "now": now.isoformat(),
        "town": town,
        "open_total": open_total,
        "overdue": overdue_total,
        "by_stage": by_stage,
        "by_stage_label": {Stage(k).label: v for k, v in by_stage.items()},
        "by_category": by_category,
        "by_category_label": {Category(k).label: v for k, v in by_category.items()},
        "by_town": _ranked(by_town),
        "overdue_by_town": overdue_by_town,
        "overdue_by_category": overdue_by_category,
        "mass_by_town": {k: v for k, v in mass_by_town.items() if v},
        "mass_by_category": {k: v for k, v in mass_by_category.items() if v},
        "overdue_by_age": overdue_by_age,
        "mass_open": mass_open,
        "by_age": by_age,
        "escalated": {str(k): v for k, v in by_level.items()},
        "closed_last_year": closed,
        "agreed_last_year": agreed,
        "failed_last_year": failed,
        "success_rate": round(agreed / (agreed + failed), 4) if agreed + failed else None,
        "median_days_to_close": median,
        "trend": trend,
    }


def _ranked(counts: dict[str, int]) -> dict[str, int]:
    """Largest first (ties by name); counters that fell back to zero are left out."""
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def _median_of_histogram(counts: dict[int, int]) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    ordered = sorted(counts.items())

    def nth(n: int) -> int:  # 0-based
        seen = 0
        for value, count in ordered:
            seen += count
            if n < seen:
                return value
        return ordered[-1][0]

    return round((nth((total - 1) // 2) + nth(total // 2)) / 2, 1)
