"""The leaders' backlog figures (dashboard, weekly 积案报表). Aggregates in the database, bounded reads:
open cases by stage × category × town × age in one grouped scan of the open set; rates and the median
over the last year of closings; the weekly trend from two indexed range counts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case as sa_case, func, literal, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.case import Case
from models.enums import Category, Stage
from models.lifecycle import OPEN_STAGES

AGE_BUCKETS = [(0, 7, "7日内"), (8, 15, "8–15日"), (16, 30, "16–30日"), (31, 60, "31–60日"), (61, None, "60日以上")]
TREND_WEEKS = 12
RATE_WINDOW_DAYS = 365


def _age_bucket(now: datetime):  # noqa: ANN202
    whens = []
    for low, high, label in AGE_BUCKETS:
        if high is None:
            continue
        whens.append((Case.created_at > now - timedelta(days=high + 1), literal(label)))
    return sa_case(*whens, else_=literal(AGE_BUCKETS[-1][2]))


def _days_between(dialect: str, start, end):  # noqa: ANN001, ANN202
    if dialect == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def backlog_summary(session: Session, *, now: datetime, town: str | None = None) -> dict:
    dialect = session.get_bind().dialect.name
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
    ended = [Case.closed_at >= since, Case.closed_at <= now, *scope]
    agreed, failed, closed = session.execute(
        select(func.sum(sa_case((Case.outcome == "agreed", 1), else_=0)),
               func.sum(sa_case((Case.outcome.in_(("failed", "withdrawn")), 1), else_=0)),
               func.count())
        .where(*ended)
    ).one()
    agreed, failed, closed = int(agreed or 0), int(failed or 0), int(closed or 0)
    median = _median_days_to_close(session, dialect, ended, closed)

    week_start = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
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


def _median_days_to_close(session: Session, dialect: str, ended: list, closed: int) -> float | None:
    if not closed:
        return None
    days = _days_between(dialect, Case.created_at, Case.closed_at)
    if dialect == "postgresql":
        value = session.execute(select(func.percentile_cont(0.5).within_group(days)).where(*ended)).scalar()
        return round(float(value), 1) if value is not None else None
    ordered = select(days.label("d")).where(*ended).order_by("d")
    middle = session.execute(ordered.offset((closed - 1) // 2).limit(2 - closed % 2)).scalars().all()
    return round(sum(middle) / len(middle), 1) if middle else None


def summary_for(engine: Engine, *, now: datetime, town: str | None = None) -> dict:
    with Session(engine) as session:
        return backlog_summary(session, now=now, town=town)
