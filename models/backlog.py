"""The leaders' backlog figures (dashboard, weekly 积案报表). Aggregates in the database, bounded reads:
open cases by stage × category × town × age in one grouped scan of the open set; rates and the median
over the last year of closings; the weekly trend from two indexed range counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case as sa_case, func, literal, select
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
    rows = session.execute(
        select(Case.stage, Case.category, Case.town, _age_bucket(now).label("age"),
               sa_case((overdue_expr, 1), else_=0).label("overdue"), Case.escalation_level, func.count())
        .where(Case.stage.in_(open_stages), *scope)
        .group_by(Case.stage, Case.category, Case.town, "age", "overdue", Case.escalation_level)
    ).all()
    by_stage: dict[str, int] = {s.value: 0 for s in Stage if s in OPEN_STAGES}
    by_category: dict[str, int] = {}
    by_town: dict[str, int] = {}
    by_age: dict[str, int] = {label: 0 for _, _, label in AGE_BUCKETS}
    by_level: dict[int, int] = {1: 0, 2: 0, 3: 0}
    overdue_total = 0
    open_total = 0
    overdue_by_town: dict[str, int] = {}
    for stage, category, case_town, age, overdue, level, count in rows:
        open_total += count
        by_stage[stage] = by_stage.get(stage, 0) + count
        by_category[category] = by_category.get(category, 0) + count
        by_town[case_town] = by_town.get(case_town, 0) + count
        by_age[age] = by_age.get(age, 0) + count
        if level:
            by_level[level] = by_level.get(level, 0) + count
        if overdue:
            overdue_total += count
            overdue_by_town[case_town] = overdue_by_town.get(case_town, 0) + count

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
    cols_in = [func.sum(sa_case((and_(Case.created_at >= s, Case.created_at < s + timedelta(weeks=1)), 1), else_=0))
               for s in starts]
    cols_out = [func.sum(sa_case((and_(Case.closed_at >= s, Case.closed_at < s + timedelta(weeks=1)), 1), else_=0))
                for s in starts]
    counts_in = session.execute(select(*cols_in).where(Case.created_at >= starts[0], *scope)).one()
    counts_out = session.execute(select(*cols_out).where(Case.closed_at >= starts[0], *scope)).one()
    trend = [{"week_start": s.date().isoformat(), "in": int(i or 0), "out": int(o or 0)}
             for s, i, o in zip(starts, counts_in, counts_out, strict=True)]

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
