"""The leaders' backlog figures (dashboard, weekly 积案报表). Aggregates in the database, bounded reads:
open cases by stage × category × town × age in one grouped scan of the open set; rates and the median
over the last year of closings; the weekly trend from two indexed range counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case as sa_case, func, literal, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.case import Case
from models.enums import Category, Stage
from models.lifecycle import OPEN_STAGES

AGE_BUCKETS = [(0, 7, "7日内"), (8, 15, "8–15日"), (16, 30, "16–30日"), (31, 60, "31–60日"), (61, None, "60日以上")]
TREND_WEEKS = 12
RATE_WINDOW_DAYS = 365
# Cases that went through mediation (a rejected application closes without it).
MEDIATED = ("agreed", "failed", "withdrawn")


def _age_bucket(now: datetime):  # noqa: ANN202
    whens = []
    for low, high, label in AGE_BUCKETS:
        if high is None:
            continue
        whens.append((Case.created_at > now - timedelta(days=high + 1), literal(label)))
    return sa_case(*whens, else_=literal(AGE_BUCKETS[-1][2]))


def backlog_summary(session: Session, *, now: datetime, town: str | None = None) -> dict:
    scope = [Case.town == town] if town else []
    open_stages = [s.value for s in OPEN_STAGES]
    overdue_expr = and_(Case.stage_due_at.is_not(None), Case.stage_due_at <= now, Case.clock_paused_since.is_(None))
    is_open = [Case.stage.in_(open_stages), *scope]
    overdue_count = func.sum(sa_case((overdue_expr, 1), else_=0))
    # A few narrow GROUP BYs over the open backlog's partial index, rather than one cross product of
    # every dimension: each returns a handful of rows.
    by_stage: dict[str, int] = {s.value: 0 for s in Stage if s in OPEN_STAGES}
    by_level: dict[int, int] = {1: 0, 2: 0, 3: 0}
    overdue_total = 0
    for stage, level, count, overdue in session.execute(
            select(Case.stage, Case.escalation_level, func.count(), overdue_count)
            .where(*is_open).group_by(Case.stage, Case.escalation_level)).all():
        by_stage[stage] = by_stage.get(stage, 0) + count
        if level:
            by_level[level] = by_level.get(level, 0) + count
        overdue_total += int(overdue or 0)
    open_total = sum(by_stage.values())
    by_category = dict(session.execute(select(Case.category, func.count()).where(*is_open)
                                       .group_by(Case.category)).all())
    by_town: dict[str, int] = {}
    overdue_by_town: dict[str, int] = {}
    for case_town, count, overdue in session.execute(
            select(Case.town, func.count(), overdue_count).where(*is_open).group_by(Case.town)).all():
        by_town[case_town] = count
        if overdue:
            overdue_by_town[case_town] = int(overdue)
    by_age: dict[str, int] = {label: 0 for _, _, label in AGE_BUCKETS}
    age = _age_bucket(now).label("age")
    for label, count in session.execute(select(age, func.count()).where(*is_open).group_by("age")).all():
        by_age[label] = count

    since = now - timedelta(days=RATE_WINDOW_DAYS)
    # One grouped read of the last year's closings (outcome × days taken) gives the rates and the median.
    histogram = session.execute(
        select(Case.outcome, Case.days_to_close, func.count())
        .where(Case.closed_at >= since, Case.closed_at <= now, *scope)
        .group_by(Case.outcome, Case.days_to_close)
    ).all()
    by_outcome: dict[str, int] = {}
    durations: dict[int, int] = {}
    for outcome, days, count in histogram:
        by_outcome[outcome or ""] = by_outcome.get(outcome or "", 0) + count
        if outcome in MEDIATED and days is not None:
            durations[days] = durations.get(days, 0) + count
    agreed = by_outcome.get("agreed", 0)
    failed = by_outcome.get("failed", 0) + by_outcome.get("withdrawn", 0)
    closed = sum(by_outcome.values())
    median = _median_of_histogram(durations)

    local = now.astimezone(ZoneInfo("Asia/Shanghai"))  # weeks run Monday to Sunday, China time
    week_start = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [week_start - timedelta(weeks=i) for i in range(TREND_WEEKS - 1, -1, -1)]
    counts_in = _per_week(session, Case.created_at, starts[0], scope)
    counts_out = _per_week(session, Case.closed_at, starts[0], scope)
    trend = [{"week_start": s.date().isoformat(), "in": counts_in.get(i, 0), "out": counts_out.get(i, 0)}
             for i, s in enumerate(starts)]

    return {
        "now": now.isoformat(), "town": town, "open_total": open_total, "overdue": overdue_total,
        "by_stage": by_stage, "by_stage_label": {Stage(k).label: v for k, v in by_stage.items()},
        "by_category": dict(sorted(by_category.items(), key=lambda kv: -kv[1])),
        "by_category_label": {Category(k).label: v for k, v in sorted(by_category.items(), key=lambda kv: -kv[1])},
        "by_town": dict(sorted(by_town.items(), key=lambda kv: -kv[1])),
        "overdue_by_town": overdue_by_town,
        "by_age": by_age, "escalated": {str(k): v for k, v in by_level.items()},
        "closed_last_year": closed, "agreed_last_year": agreed, "failed_last_year": failed,
        "success_rate": round(agreed / (agreed + failed), 4) if agreed + failed else None,
        "median_days_to_close": median, "trend": trend,
    }


def _per_week(session: Session, column, start: datetime, scope: list) -> dict[int, int]:  # noqa: ANN001
    """Rows per week since `start` (0 = the first week), grouped in the database on an indexed range."""
    if session.get_bind().dialect.name == "postgresql":
        week = func.floor(func.extract("epoch", column - start) / 604800)
    else:
        week = func.cast((func.julianday(column) - func.julianday(start.astimezone(UTC).replace(tzinfo=None)))
                         / 7, Integer)
    rows = session.execute(select(week.label("week"), func.count()).where(column >= start, *scope)
                           .group_by("week")).all()
    return {int(w): c for w, c in rows if w is not None and 0 <= int(w) < TREND_WEEKS}


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


def summary_for(engine: Engine, *, now: datetime, town: str | None = None) -> dict:
    with Session(engine) as session:
        return backlog_summary(session, now=now, town=town)
