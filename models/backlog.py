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

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, Select, String, cast, func, literal, null, select, union_all
from sqlalchemy import case as sa_case
from sqlalchemy.sql.elements import Case as SqlCase
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from models.case import Case
from models.case_queries import supervised_sql
from models.deadlines import OPEN_STAGE_VALUES, china_date, open_sql, overdue_sql, start_of_day_utc
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
from models.tz import CHINA

__all__ = ["AGE_BUCKETS", "MEDIATED", "RATE_WINDOW_DAYS", "TREND_WEEKS", "backlog_summary"]

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


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _trend_start(now: datetime) -> datetime:
    """00:00 China time of the Monday TREND_WEEKS - 1 weeks before this week's (weeks run Monday–Sunday)."""
    first = _monday(china_date(now)) - timedelta(weeks=TREND_WEEKS - 1)
    return datetime.combine(first, time(0), tzinfo=CHINA)  # China time: `week_start` prints its date


def _window(now: datetime) -> tuple[date, date, list[tuple[datetime, datetime, int]]]:
    """The 365-day window as whole rollup weeks `first`..`last` (inclusive) corrected by raw closings:
    (from, to, sign) ranges, `from` inclusive, `to` exclusive, of closings to add (+1) or take away (-1).

    The last week is counted whole and the closings after `now` taken away (none, when `now` is the
    present); at the start, the shorter side of `since` within its week is read from the cases."""
    since = now - timedelta(days=RATE_WINDOW_DAYS)
    start_week = _monday(china_date(since))
    a, b = start_of_day_utc(start_week), start_of_day_utc(start_week + timedelta(weeks=1))
    last = _monday(china_date(now))
    after_now = (now + timedelta(microseconds=1), start_of_day_utc(last + timedelta(weeks=1)), -1)
    if since - a <= b - since:
        return start_week, last, [(a, since, -1), after_now]
    return start_week + timedelta(weeks=1), last, [(since, b, 1), after_now]


def _as_text(value: Any) -> ColumnElement[Any]:
    return cast(null() if value is None else value, String)


def _part(kind: str, a: Any, b: Any, n: Any, m: Any = 0) -> Select:
    """One read, shaped (kind, a, b, n, m) so that all of them travel in one statement."""
    return select(
        literal(kind, String).label("kind"),
        _as_text(a).label("a"),
        _as_text(b).label("b"),
        n.label("n") if isinstance(n, ColumnElement) else literal(n).label("n"),
        m.label("m") if isinstance(m, ColumnElement) else literal(m).label("m"),
    )


def _statement(now: datetime, town: str | None) -> CompoundSelect:
    """The reads behind the figures, each a small range of a rollup or an index, in one UNION ALL: one
    round trip (on a busy server every round trip waits for the CPU again)."""
    scope: list[ColumnElement[bool]] = [col(Case.town) == town] if town else []
    first_week, last_week, edges = _window(now)
    trend_start = china_date(_trend_start(now))
    cutoffs = _cutoffs(now)
    oldest_day = min(trend_start, china_date(cutoffs[-1][0]))
    state, intake, closed = RollupCaseState, RollupIntakeDay, RollupClosedWeek
    in_town: dict[Any, list[ColumnElement[bool]]] = {
        t: [col(t.town) == town] if town else [] for t in (state, intake, closed)
    }
    parts: list[Select] = []
    # The open backlog by stage, category and town (n, and how many are 群体性).
    for kind, column in (("stage", state.stage), ("category", state.category), ("town", state.town)):
        parts.append(
            _part(kind, col(column), None, func.sum(state.n), func.sum(state.n_mass))
            .where(col(state.stage).in_(OPEN_STAGE_VALUES), *in_town[state])
            .group_by(col(column))
        )
    parts.append(
        _part("level", col(Case.escalation_level), None, func.count())
        .where(supervised_sql(), *scope)
        .group_by(col(Case.escalation_level))
    )
    # Overdue, from the overdue cases themselves (depends on `now`).
    age = _age_bucket(now)
    overdue_by: list[tuple[str, Any]] = [
        ("overdue_category", col(Case.category)),
        ("overdue_town", col(Case.town)),
        ("overdue_age", age),
    ]
    for kind, grouped in overdue_by:
        parts.append(
            _part(kind, grouped, None, func.count()).where(overdue_sql(now), *scope).group_by(grouped)
        )
    parts.append(
        _part("intake", col(intake.day), None, func.sum(intake.n), func.sum(intake.n_open))
        .where(col(intake.day) >= oldest_day, *in_town[intake])
        .group_by(col(intake.day))
    )
    # Exactly at each age cut-off's day: the open cases registered after the cut-off on that day.
    for cutoff, label in cutoffs:
        parts.append(
            _part("age_edge", literal(label, String), None, func.count()).where(
                open_sql(),
                col(Case.created_at) > cutoff,
                col(Case.created_at) < start_of_day_utc(china_date(cutoff) + timedelta(days=1)),
                *scope,
            )
        )
    parts.append(
        _part("closed", col(closed.week), col(closed.outcome), func.sum(closed.n))
        .where(col(closed.week) >= min(first_week, trend_start), *in_town[closed])
        .group_by(col(closed.week), col(closed.outcome))
    )
    parts.append(
        _part("close_days", col(RollupCloseDays.days_to_close), None, func.sum(RollupCloseDays.n))
        .where(
            col(RollupCloseDays.town) == (town or ALL_TOWNS),
            col(RollupCloseDays.week) >= first_week,
            col(RollupCloseDays.week) <= last_week,
        )
        .group_by(col(RollupCloseDays.days_to_close))
    )
    for i, (low, high, _sign) in enumerate(edges):
        parts.append(
            _part(f"closings_edge_{i}", col(Case.outcome), col(Case.days_to_close), func.count())
            .where(col(Case.closed_at) >= low, col(Case.closed_at) < high, *scope)
            .group_by(col(Case.outcome), col(Case.days_to_close))
        )
    return union_all(*parts)


def backlog_summary(session: Session, *, now: datetime, town: str | None = None) -> dict:
    rows: dict[str, list[tuple[str | None, str | None, int, int]]] = defaultdict(list)
    for kind, a, b, n, m in session.execute(_statement(now, town)):
        rows[kind].append((a, b, int(n or 0), int(m or 0)))
    first_week, last_week, edges = _window(now)
    start = _trend_start(now)
    trend_start = china_date(start)

    # The open backlog (rollup_case_state).
    by_stage: dict[str, int] = {s.value: 0 for s in Stage if s in OPEN_STAGES}
    by_stage.update({str(stage): n for stage, _, n, _ in rows["stage"]})
    by_category = {str(k): n for k, _, n, _ in rows["category"]}
    by_town = {str(k): n for k, _, n, _ in rows["town"]}
    mass_by_category = {str(k): m for k, _, _, m in rows["category"] if m}
    mass_by_town = {str(k): m for k, _, _, m in rows["town"] if m}
    open_total = sum(by_stage.values())
    mass_open = sum(mass_by_town.values())

    by_level: dict[int, int] = {1: 0, 2: 0, 3: 0}
    for level, _, count, _ in rows["level"]:
        by_level[int(str(level))] = count

    # Overdue (from the cases: depends on `now`).
    overdue_by_category = {str(k): n for k, _, n, _ in rows["overdue_category"]}
    overdue_by_town = {str(k): n for k, _, n, _ in rows["overdue_town"]}
    overdue_by_age: dict[str, int] = {label: 0 for _, _, label in AGE_BUCKETS}
    overdue_by_age.update({str(k): n for k, _, n, _ in rows["overdue_age"]})
    overdue_total = sum(overdue_by_age.values())

    # Age: open cases registered after each cut-off = whole days after its day + the edge of its day.
    open_on: dict[date, int] = {}
    counts_in: dict[int, int] = {}
    for day_text, _, n, n_open in rows["intake"]:
        day = date.fromisoformat(str(day_text))
        open_on[day] = n_open
        week = (day - trend_start).days // 7
        if 0 <= week < TREND_WEEKS:
            counts_in[week] = counts_in.get(week, 0) + n
    age_edges = {str(label): n for label, _, n, _ in rows["age_edge"]}
    younger = 0
    by_age: dict[str, int] = {}
    for cutoff, label in _cutoffs(now):
        cut_day = china_date(cutoff)
        after = sum(n for day, n in open_on.items() if day > cut_day) + age_edges.get(label, 0)
        by_age[label] = after - younger
        younger = after
    by_age[AGE_BUCKETS[-1][2]] = open_total - younger

    # Closings of the last 365 days: whole weeks from the rollups, corrected at the ends from the cases.
    by_outcome: dict[str, int] = {}
    counts_out: dict[int, int] = {}
    for week_text, outcome, n, _ in rows["closed"]:
        week_start = date.fromisoformat(str(week_text))
        if first_week <= week_start <= last_week:
            by_outcome[outcome or ""] = by_outcome.get(outcome or "", 0) + n
        week = (week_start - trend_start).days // 7
        if 0 <= week < TREND_WEEKS:
            counts_out[week] = counts_out.get(week, 0) + n
    durations: dict[int, int] = {int(str(d)): n for d, _, n, _ in rows["close_days"] if n}
    for i, (_low, _high, sign) in enumerate(edges):
        for outcome, days, count, _ in rows[f"closings_edge_{i}"]:
            by_outcome[outcome or ""] = by_outcome.get(outcome or "", 0) + sign * count
            if outcome in MEDIATED and days is not None:
                durations[int(days)] = durations.get(int(days), 0) + sign * count
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
