"""The dashboard's rollups hold what the raw cases say, on both databases.

A varied set of cases is driven through the real intake, transitions and escalation sweep (three towns,
four categories, every stage, every outcome, closings on both sides of the 365-day window and of the age
cut-offs), plus a Core UPDATE and an ORM change the way an operator or a correction would make them.
Then `backlog_summary` (which reads the rollups) must equal the same figures computed here, from the raw
case rows, by rules written out independently — at several `now` values, center-wide and per town;
`tiaojie rollups rebuild` must find nothing to correct; a corrupted counter shows in the summary and the
rebuild puts it right.
"""

from __future__ import annotations

import statistics
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.cli import main as cli
from flows.escalation import run_sweep
from flows.process import apply_transition
from models.backlog import backlog_summary
from models.case import Case
from models.db import session_scope
from models.rollups import rebuild, triggers_current
from models.user import User
from tests.factories import add_user, neighbor_case, register, wage_case
from tests.support.clock import CHINA

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

NOW = datetime(2026, 11, 25, 15, 20, tzinfo=CHINA)  # a Wednesday afternoon
TOWNS = ("玉海街道", "塘下镇", "马屿镇")
CATEGORIES = ("neighbor", "contract", "housing_land", "traffic")
# Written out rather than imported: which stages are open, and which outcomes count as mediated, are
# part of what is checked.
OPEN = {"registered", "accepted", "panel_formed", "in_mediation", "agreed", "follow_up"}
MEDIATED = {"agreed", "failed", "withdrawn"}
AGE_LIMITS = ((8, "7日内"), (16, "8–15日"), (31, "16–30日"), (61, "31–60日"))
OLDEST = "60日以上"
LABELS = [label for _, label in AGE_LIMITS] + [OLDEST]

# Each path: the transitions after intake, each (name, hours after the previous step).
PATHS: list[list[tuple[str, float]]] = [
    [],  # stays registered
    [("accept", 5)],
    [("accept", 3), ("form_panel", 20)],
    [("accept", 2), ("form_panel", 30), ("start_mediation", 50)],
    [("accept", 2), ("form_panel", 24), ("start_mediation", 24), ("agree", 100)],
    [("accept", 2), ("form_panel", 24), ("start_mediation", 24), ("agree", 100), ("sign", 30)],
    [
        ("accept", 1),
        ("form_panel", 24),
        ("start_mediation", 48),
        ("agree", 200),
        ("sign", 20),
        ("close", 300),
    ],
    [("accept", 4), ("form_panel", 24), ("start_mediation", 24), ("fail", 150), ("close", 30)],
    [("accept", 4), ("form_panel", 24), ("withdraw", 70), ("close", 10)],
    [("reject", 30)],
    [("accept", 6), ("respondent_refuses", 40)],  # closed without an outcome
    [("accept", 4), ("form_panel", 24), ("start_mediation", 24), ("fail", 90)],  # failed, not yet closed
]
# Days before NOW each case is registered: near the age cut-offs (8, 16, 31, 61 days), near the trend's
# first week, and on both sides of the 365-day window once the closing time is added.
AGES = [
    0.1, 1.5, 7.95, 8.05, 12, 15.9, 16.2, 30.8, 31.3, 45, 60.9, 61.2,
    79, 84, 90, 150, 240, 358, 362, 366, 371, 380, 420, 700,
]  # fmt: skip


def _walk(engine: Engine, case_id: int, actor: int, steps: list[tuple[str, float]], start: datetime) -> None:
    at = start
    for name, hours in steps:
        at += timedelta(hours=hours)
        with session_scope(engine, write=True) as s:
            apply_transition(s, s.get(Case, case_id), name, actor=s.get(User, actor), now=at)


def build(engine: Engine) -> None:
    clerk = add_user(engine, "clerk", "staff")
    for i, age in enumerate(AGES):
        town, category = TOWNS[i % 3], CATEGORIES[(i // 3) % 4]
        created = NOW - timedelta(days=age) + timedelta(minutes=7 * i)
        body = (
            wage_case(claimants=6, town=town)
            if i % 7 == 3
            else neighbor_case(town=town, category=category, headcount=6 if i % 11 == 5 else 1)
        )
        case_id = register(engine, body, actor_id=clerk, now=created)
        _walk(engine, case_id, clerk, PATHS[(i * 5) % len(PATHS)], created)
    # The sweep's executemany UPDATE of escalation levels (no ORM events) as of two moments.
    run_sweep(engine, now=NOW - timedelta(days=20))
    run_sweep(engine, now=NOW - timedelta(hours=2))
    with session_scope(engine, write=True) as s:
        # An operator's correction by plain SQL: a case registered in the wrong town, a closing's date.
        s.execute(text("UPDATE cases SET town = :t WHERE id = (SELECT min(id) FROM cases)"), {"t": "陶山镇"})
        s.execute(
            text(
                "UPDATE cases SET closed_at = :at "
                "WHERE id = (SELECT max(id) FROM cases WHERE closed_at IS NOT NULL)"
            ),
            {"at": NOW - timedelta(days=364, hours=23)},
        )
        # And through the ORM: a category corrected.
        case = s.get(Case, s.execute(text("SELECT min(id) FROM cases WHERE stage = 'accepted'")).scalar_one())
        assert case is not None
        case.category = "traffic"
        s.add(case)


# --- The figures, from the raw rows ------------------------------------------------------------------


def raw_rows(engine: Engine) -> tuple[list[Case], set[int]]:
    with Session(engine) as s:
        rows = [s.get(Case, cid) for cid in s.execute(text("SELECT id FROM cases")).scalars()]
        unresolved = text("SELECT case_id FROM escalations WHERE resolved_at IS NULL")
        return [r for r in rows if r is not None], set(s.execute(unresolved).scalars())


def expected(cases: list[Case], unresolved: set[int], now: datetime, town: str | None) -> dict:
    cases = [c for c in cases if town is None or c.town == town]
    open_ = [c for c in cases if c.stage in OPEN]

    def overdue(c: Case) -> bool:
        return c.stage_due_at is not None and c.clock_paused_since is None and now >= c.stage_due_at

    def age(c: Case) -> str:
        for days, label in AGE_LIMITS:
            if now - c.created_at < timedelta(days=days):
                return label
        return OLDEST

    late = [c for c in open_ if overdue(c)]
    since = now - timedelta(days=365)
    closed = [c for c in cases if c.closed_at is not None and since <= c.closed_at <= now]
    agreed = sum(c.outcome == "agreed" for c in closed)
    failed = sum(c.outcome in ("failed", "withdrawn") for c in closed)
    durations = [c.days_to_close for c in closed if c.outcome in MEDIATED and c.days_to_close is not None]
    local = now.astimezone(CHINA)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    first = monday - timedelta(weeks=11)

    def week_of(moment: datetime | None) -> int | None:
        if moment is None or moment < first:
            return None
        week = int((moment - first) / timedelta(weeks=1))
        return week if week < 12 else None

    ins = Counter(week_of(c.created_at) for c in cases)
    outs = Counter(week_of(c.closed_at) for c in cases)
    levels = Counter(c.escalation_level for c in open_ if c.escalation_level >= 1 and c.id in unresolved)
    return {
        "open_total": len(open_),
        "overdue": len(late),
        "by_stage": {s: sum(c.stage == s for c in open_) for s in OPEN},
        "by_category": dict(Counter(c.category for c in open_)),
        "by_town": dict(Counter(c.town for c in open_)),
        "overdue_by_town": dict(Counter(c.town for c in late)),
        "overdue_by_category": dict(Counter(c.category for c in late)),
        "mass_by_town": dict(Counter(c.town for c in open_ if c.is_mass)),
        "mass_by_category": dict(Counter(c.category for c in open_ if c.is_mass)),
        "mass_open": sum(c.is_mass for c in open_),
        "by_age": {label: sum(age(c) == label for c in open_) for _, label in (*AGE_LIMITS, (0, OLDEST))},
        "overdue_by_age": {
            label: sum(age(c) == label for c in late) for _, label in (*AGE_LIMITS, (0, OLDEST))
        },
        "escalated": {str(level): levels.get(level, 0) for level in (1, 2, 3)},
        "closed_last_year": len(closed),
        "agreed_last_year": agreed,
        "failed_last_year": failed,
        "success_rate": round(agreed / (agreed + failed), 4) if agreed + failed else None,
        "median_days_to_close": round(float(statistics.median(durations)), 1) if durations else None,
        "trend": [
            {
                "week_start": (first + timedelta(weeks=i)).date().isoformat(),
                "in": ins.get(i, 0),
                "out": outs.get(i, 0),
            }
            for i in range(12)
        ],
    }


def summary(engine: Engine, now: datetime, town: str | None) -> dict:
    with Session(engine) as s:
        out = backlog_summary(s, now=now, town=town)
    return {k: out[k] for k in expected([], set(), now, None)}


MOMENTS = [
    NOW,
    NOW - timedelta(days=3, hours=5),
    NOW + timedelta(days=9, minutes=13),
    NOW - timedelta(days=200),
    NOW + timedelta(days=6, hours=17),  # moves the 365-day window past the closings near its edge
]


def assert_all_match(engine: Engine) -> None:
    cases, unresolved = raw_rows(engine)
    for now in MOMENTS:
        for town in (None, *TOWNS, "陶山镇", "北麂乡"):
            assert summary(engine, now, town) == expected(cases, unresolved, now, town), (now, town)


def test_rollups_match_the_raw_cases(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    build(engine)
    cases, _ = raw_rows(engine)
    # The data set is as varied as intended.
    assert {c.stage for c in cases} >= OPEN | {"closed", "rejected", "failed"}
    assert {c.outcome for c in cases} >= {"agreed", "failed", "withdrawn", "rejected", None}
    assert len({c.town for c in cases}) == 4 and any(c.is_mass and c.stage in OPEN for c in cases)
    assert any(c.escalation_level >= 1 and c.stage in OPEN for c in cases)
    with engine.connect() as conn:
        assert triggers_current(conn)

    assert_all_match(engine)
    # The triggers kept every counter exact: a rebuild from the raw table has nothing to correct.
    with session_scope(engine, write=True) as s:
        report = rebuild(s.connection())
    assert report.corrected == 0 and report.cases == len(AGES)
    assert_all_match(engine)

    # A corrupted counter shows in the figures; the command rebuilds it.
    with session_scope(engine, write=True) as s:
        town, category, level = s.execute(
            text("SELECT town, category, escalation_level FROM rollup_case_state WHERE stage = 'registered'")
        ).first()
        s.execute(
            text(
                "UPDATE rollup_case_state SET n = n + 5 WHERE stage = 'registered' "
                "AND town = :t AND category = :c AND escalation_level = :l"
            ),
            {"t": town, "c": category, "l": level},
        )
        s.execute(
            text("DELETE FROM rollup_intake_days WHERE day = (SELECT max(day) FROM rollup_intake_days)")
        )
        s.execute(text("UPDATE rollup_close_days SET n = n + 40 WHERE town = ''"))
    cases, unresolved = raw_rows(engine)
    wrong = summary(engine, NOW, None)
    right = expected(cases, unresolved, NOW, None)
    assert wrong["open_total"] == right["open_total"] + 5
    assert wrong["trend"] != right["trend"]
    capsys.readouterr()
    assert cli(["rollups", "rebuild"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"已重建看板统计：{len(AGES)} 件案件")
    corrected = int(out[0].split("修正 ")[1].split(" 行")[0])
    assert corrected >= 3
    assert_all_match(engine)
    with Session(engine) as s:
        audit = s.execute(text("SELECT actor_name FROM audit_events WHERE action = 'rollups.rebuild'")).all()
    assert audit == [("cli",)]


def test_parallel_intakes_lose_no_count(engine: Engine) -> None:
    clerk = add_user(engine, "clerk", "staff")
    moments = [NOW - timedelta(minutes=i) for i in range(24)]

    def one(i: int) -> int:
        return register(engine, neighbor_case(town=TOWNS[i % 2]), actor_id=clerk, now=moments[i])

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(one, range(len(moments))))
    assert len(set(ids)) == len(moments)
    with Session(engine) as s:
        out = backlog_summary(s, now=NOW, town=None)
    assert out["open_total"] == len(moments) and out["by_town"] == {TOWNS[0]: 12, TOWNS[1]: 12}
    assert out["trend"][-1]["in"] == len(moments)
    with session_scope(engine, write=True) as s:
        assert rebuild(s.connection()).corrected == 0


def test_rows_written_and_deleted_by_plain_sql_move_the_counters(engine: Engine) -> None:
    """A bulk import or an operator's cleanup, not the flows: a closed case inserted and deleted by SQL."""
    from sqlalchemy import delete, insert

    from models.db import table_of

    cases = table_of(Case)
    created, closed_at = NOW - timedelta(days=40), NOW - timedelta(days=3)
    row = {
        "case_no": "瑞调〔2026〕99999号",
        "center_code": "RA",
        "case_year": 2026,
        "case_seq": 99999,
        "stage": "closed",
        "stage_entered_at": closed_at,
        "outcome": "agreed",
        "category": "neighbor",
        "channel": "walk_in",
        "town": TOWNS[2],
        "summary": "导入的历史案件。",
        "clock": "people_mediation",
        "created_at": created,
        "updated_at": closed_at,
        "closed_at": closed_at,
        "days_to_close": 37,
    }
    with session_scope(engine, write=True) as s:
        case_id = s.execute(insert(cases).returning(cases.c.id), row).scalar_one()
    for town in (None, TOWNS[2]):
        out = summary(engine, NOW, town)
        assert out["closed_last_year"] == 1 and out["agreed_last_year"] == 1
        assert out["median_days_to_close"] == 37 and out["open_total"] == 0
        assert sum(w["in"] for w in out["trend"]) == 1 and sum(w["out"] for w in out["trend"]) == 1
        assert out == expected(*raw_rows(engine), NOW, town)
    with session_scope(engine, write=True) as s:
        s.execute(delete(cases).where(cases.c.id == case_id))
    out = summary(engine, NOW, None)
    assert out["closed_last_year"] == 0 and out["median_days_to_close"] is None
    assert out == expected(*raw_rows(engine), NOW, None)
    with session_scope(engine, write=True) as s:
        assert rebuild(s.connection()).corrected == 0
