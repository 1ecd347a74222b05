"""3. Dashboard on 1,000,000 cases (PostgreSQL): p50/p95 of `models.backlog.backlog_summary`, center-wide
and per town.

A scratch database `tiaojie_bench_dashboard_*` is migrated by `models.migrate.upgrade`, the cases table
loaded with COPY (psycopg2 copy_expert, bench/dataset.py rows; secondary indexes dropped for the load and
rebuilt after; the rollup triggers do not fire during the COPY, replica mode) and the rollups filled by
`models.rollups.rebuild` (what `tiaojie rollups rebuild` runs), then VACUUM ANALYZE (the steady state
autovacuum reaches). After 2 warm-up calls, `backlog_summary(session, now=NOW)` is timed over C calls
center-wide and C calls for a town (the towns in turn, as town leaders would), interleaved with the
baseline `SELECT count(*) FROM cases WHERE stage IN (open)`. Each SQL statement of the summary is timed
too (where the time goes). Target: p95 < 100 ms, center-wide and per town. The database is dropped at
the end.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from bench import dataset
from bench.common import PgDatabase, Result, header, median, ms, pct, postgres_available

TARGET_MS = 100
OPEN = "('registered','accepted','panel_formed','in_mediation','agreed','follow_up')"


def load(url: str, n: int, res: Result) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    from models.db import make_engine
    from models.migrate import upgrade
    from models.rollups import rebuild

    t0 = time.perf_counter()
    upgrade(url)
    u = make_url(url)
    con = psycopg2.connect(host=u.host, port=u.port, user=u.username, dbname=u.database)
    con.autocommit = True
    cur = con.cursor()
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = 'cases'::regclass)"
    )
    indexes = cur.fetchall()
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    # A bulk load is not a million intakes: the rollups are rebuilt once after it (as after a restore).
    cur.execute("SET session_replication_role = replica")
    cur.copy_expert(
        f"COPY cases ({', '.join(dataset.COLUMNS)}) FROM STDIN", dataset.CopyStream(n), size=1 << 20
    )
    cur.execute("SET session_replication_role = DEFAULT")
    t_copy = time.perf_counter() - t0
    for _, ddl in indexes:
        cur.execute(ddl)
    t1 = time.perf_counter()
    engine = make_engine(url)
    with engine.begin() as conn:
        report = rebuild(conn)
    engine.dispose()
    t_rebuild = time.perf_counter() - t1
    cur.execute("VACUUM ANALYZE")
    con.close()
    res.fig(
        "loaded",
        f"{n:,} cases: migrate+generate+COPY {t_copy:.1f} s, "
        f"+indexes+rollups+VACUUM ANALYZE {time.perf_counter() - t0:.1f} s total",
    )
    res.fig("rollups rebuild", f"{t_rebuild:.1f} s: {report.line()} ({report.rows})")


def explain_parts(session, now) -> list[tuple[str, float]]:
    """Each read of the summary's one UNION ALL statement with its own execution time."""
    from sqlalchemy import text

    from models.backlog import _statement

    stmt = _statement(now, None)
    kinds = [sel.selected_columns[0].element.value for sel in stmt.selects]
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    plan = session.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)).scalar()[0]["Plan"]
    session.rollback()
    children = plan["Plans"] if plan["Node Type"] == "Append" else [plan]
    return [(k, c["Actual Total Time"]) for k, c in zip(kinds, children, strict=False)]


def run(
    *,
    quick: bool = False,
    cases: int | None = None,
    calls: int | None = None,
    profile: bool = False,
    workdir: Path,
) -> Result:
    n = cases or (50_000 if quick else 1_000_000)
    calls = calls or (15 if quick else 30)
    header(f"dashboard: backlog_summary on {n:,} cases (PostgreSQL)")
    res = Result("dashboard", f"Dashboard, {n:,} cases, PostgreSQL")
    if not postgres_available():
        res.note("PostgreSQL not reachable: skipped")
        for scope in ("center-wide", "per town"):
            res.check(
                f"dashboard p95, {scope}",
                measured="-",
                baseline="-",
                ratio=None,
                target=f"< {TARGET_MS} ms",
                passed=None,
            )
        return res
    from sqlalchemy import event, text
    from sqlmodel import Session

    from models.backlog import backlog_summary
    from models.db import make_engine

    with PgDatabase("dashboard") as db:
        load(db.url, n, res)
        engine = make_engine(db.url)
        stmt_times: dict[str, list[float]] = defaultdict(list)
        recording = {"on": False}

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):
            conn.info["t0"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):
            if recording["on"]:
                key = " ".join(statement.split())[:100]
                stmt_times[key].append(time.perf_counter() - conn.info["t0"])

        now = dataset.NOW
        times: dict[str, list[float]] = {"center": [], "town": []}
        base_t: list[float] = []
        town_open: dict[str, int] = {}
        baseline = text(f"SELECT count(*) FROM cases WHERE stage IN {OPEN}")
        with Session(engine) as session:
            for town in (None, dataset.TOWNS[0]):
                for _ in range(2):
                    backlog_summary(session, now=now, town=town)
                    session.rollback()
            for i in range(calls * 2):
                town = None if i % 2 == 0 else dataset.TOWNS[(i // 2) % len(dataset.TOWNS)]
                recording["on"] = town is None
                t0 = time.perf_counter()
                out = backlog_summary(session, now=now, town=town)
                times["center" if town is None else "town"].append(time.perf_counter() - t0)
                recording["on"] = False
                session.rollback()  # each call is its own read transaction, as a request's would be
                if town is None:
                    center = out
                    t0 = time.perf_counter()
                    count = session.execute(baseline).scalar()
                    base_t.append(time.perf_counter() - t0)
                    session.rollback()
                else:
                    town_open[town] = out["open_total"]
            runs = [explain_parts(session, now) for _ in range(5)]
            parts = [(kind, median([r[i][1] for r in runs])) for i, (kind, _) in enumerate(runs[0])]
        engine.dispose()

    res.fig(
        "open cases (summary / baseline count)",
        f"{center['open_total']:,} / {count:,}; overdue {center['overdue']:,}; "
        f"closed last year {center['closed_last_year']:,}; median {center['median_days_to_close']} days",
    )
    for scope, label in (("center", "center-wide"), ("town", "per town (towns in turn)")):
        ts = times[scope]
        res.fig(
            f"backlog_summary {label}, {len(ts)} calls",
            f"p50 {ms(median(ts))}  p95 {ms(pct(ts, 95))}  max {ms(max(ts))}",
        )
    res.fig("baseline SELECT count(*) open", f"p50 {ms(median(base_t))}  p95 {ms(pct(base_t, 95))}")
    print("  where the time goes (center-wide, per statement, median per call):", flush=True)
    for sql, ts in sorted(stmt_times.items(), key=lambda kv: -median(kv[1])):
        print(f"    {ms(median(ts)):>10}  {sql}", flush=True)
    print("  inside that statement (EXPLAIN ANALYZE, center-wide, median of 5, ms per read):", flush=True)
    for kind, total in parts:
        print(f"    {total:>8.2f} ms  {kind}", flush=True)
    if center["open_total"] != count:
        res.note(f"summary open_total {center['open_total']} != count {count}")
    if sum(center["by_town"].get(t, 0) for t in town_open) != sum(town_open.values()):
        res.note("per-town open totals differ from the center-wide figures by town")
    for scope, label in (("center", "center-wide"), ("town", "per town")):
        p95 = pct(times[scope], 95)
        res.check(
            f"dashboard p95, {label} (PostgreSQL)",
            measured=f"p95 {ms(p95)}",
            baseline=f"count(*) open p95 {ms(pct(base_t, 95))}",
            ratio=p95 / pct(base_t, 95),
            target=f"< {TARGET_MS} ms",
            passed=p95 * 1000 < TARGET_MS,
        )
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calls", type=int, help="timed backlog_summary calls (dashboard; default 30, quick 15)")
