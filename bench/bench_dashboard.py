"""3. Dashboard on 1,000,000 cases (PostgreSQL): p50/p95 of `models.backlog.backlog_summary`.

A scratch database `tiaojie_bench_dashboard_*` is migrated by `models.migrate.upgrade`, the cases table
loaded with COPY (psycopg2 copy_expert, bench/dataset.py rows; secondary indexes dropped for the load and
rebuilt after), then VACUUM ANALYZE (the steady state autovacuum reaches). After 2 warm-up calls,
`backlog_summary(session, now=NOW)` is timed over C calls, interleaved with the baseline
`SELECT count(*) FROM cases WHERE stage IN (open)`. Each SQL statement of the summary is timed too
(where the time goes). Target: p95 < 200 ms. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from bench import dataset
from bench.common import PgDatabase, Result, header, median, ms, pct, postgres_available

TARGET_MS = 200
OPEN = "('registered','accepted','panel_formed','in_mediation','agreed','follow_up')"


def load(url: str, n: int, res: Result) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    from models.migrate import upgrade

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
    cur.copy_expert(
        f"COPY cases ({', '.join(dataset.COLUMNS)}) FROM STDIN", dataset.CopyStream(n), size=1 << 20
    )
    t_copy = time.perf_counter() - t0
    for _, ddl in indexes:
        cur.execute(ddl)
    cur.execute("VACUUM ANALYZE cases")
    con.close()
    res.fig(
        "loaded",
        f"{n:,} cases: migrate+generate+COPY {t_copy:.1f} s, "
        f"+indexes+VACUUM ANALYZE {time.perf_counter() - t0:.1f} s total",
    )


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
        res.check(
            "dashboard p95", measured="-", baseline="-", ratio=None, target=f"< {TARGET_MS} ms", passed=None
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
        def _before(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ANN202
            conn.info["t0"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ANN202
            if recording["on"]:
                key = " ".join(statement.split())[:90]
                stmt_times[key].append(time.perf_counter() - conn.info["t0"])

        now = dataset.NOW
        summary_t: list[float] = []
        base_t: list[float] = []
        with Session(engine) as session:
            for _ in range(2):
                out = backlog_summary(session, now=now)
                session.execute(text(f"SELECT count(*) FROM cases WHERE stage IN {OPEN}")).scalar()
            for _ in range(calls):
                recording["on"] = True
                t0 = time.perf_counter()
                out = backlog_summary(session, now=now)
                summary_t.append(time.perf_counter() - t0)
                recording["on"] = False
                t0 = time.perf_counter()
                count = session.execute(text(f"SELECT count(*) FROM cases WHERE stage IN {OPEN}")).scalar()
                base_t.append(time.perf_counter() - t0)
                session.rollback()  # each call is its own read transaction, as a request's would be
        engine.dispose()

    res.fig(
        "open cases (summary / baseline count)",
        f"{out['open_total']:,} / {count:,}; overdue {out['overdue']:,}",
    )
    res.fig(
        f"backlog_summary over {calls} calls",
        f"p50 {ms(median(summary_t))}  p95 {ms(pct(summary_t, 95))}  max {ms(max(summary_t))}",
    )
    res.fig("baseline SELECT count(*) open", f"p50 {ms(median(base_t))}  p95 {ms(pct(base_t, 95))}")
    print("  where the time goes (per statement, median per call):", flush=True)
    for sql, ts in sorted(stmt_times.items(), key=lambda kv: -median(kv[1])):
        print(f"    {ms(median(ts)):>10}  {sql}", flush=True)
    if out["open_total"] != count:
        res.note(f"summary open_total {out['open_total']} != count {count}")
    p95 = pct(summary_t, 95)
    res.check(
        "dashboard p95 (PostgreSQL)",
        measured=f"p95 {ms(p95)}",
        baseline=f"p95 {ms(pct(base_t, 95))}",
        ratio=p95 / pct(base_t, 95),
        target=f"< {TARGET_MS} ms",
        passed=p95 * 1000 < TARGET_MS,
    )
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calls", type=int, help="timed backlog_summary calls (dashboard; default 30, quick 15)")
