"""2. Escalation sweep over 1,000,000 cases (SQLite) vs the raw SQL query that finds the overdue ones.

The database is migrated by `models.migrate.upgrade`, then filled with executemany (bench/dataset.py:
~95% closed, the open ones with deadlines, `new_overdue_count(n)` of them newly overdue at NOW) and
cached under bench/out/ keyed by the schema's hash, the generator version and N.

Timed, R times each (median reported): `flows.escalation.sweep(session, now=NOW, period=7 days)` in a
BEGIN IMMEDIATE transaction, then a second sweep in the same transaction (must escalate nothing), then
ROLLBACK (the cached file stays as built). Baselines, raw sqlite3 on the same file:
- scan form: SELECT id FROM cases NOT INDEXED WHERE stage IN (open) AND stage_due_at <= :now
- index-backed form: the same query as the planner runs it (ix_cases_stage_due)
Target: sweep ≤ 1.5× the raw query.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import sqlite3
import time
from pathlib import Path

from bench import dataset
from bench.common import OUT, Result, header, median, ms

TARGET = 1.5
OPEN = "('registered','accepted','panel_formed','in_mediation','agreed','follow_up')"
RAW_SCAN = f"SELECT id FROM cases NOT INDEXED WHERE stage IN {OPEN} AND stage_due_at <= ?"
RAW_INDEX = f"SELECT id FROM cases WHERE stage IN {OPEN} AND stage_due_at <= ?"
SWEEP_READ = (
    "SELECT id, case_no, stage, stage_seq, stage_due_at, town, escalation_level, next_escalation_at, "
    "version FROM cases WHERE next_escalation_at <= ? ORDER BY next_escalation_at"
)


def schema_hash(workdir: Path) -> str:
    from models.migrate import upgrade

    probe = workdir / "schema-probe.db"
    probe.unlink(missing_ok=True)
    upgrade(f"sqlite:///{probe}")
    con = sqlite3.connect(probe)
    ddl = sorted(r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
    con.close()
    probe.unlink()
    return hashlib.sha256("\n".join(ddl).encode()).hexdigest()[:12]


def build(path: Path, n: int, res: Result) -> None:
    from models.db import make_engine
    from models.migrate import upgrade
    from tests.factories import add_user

    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    url = f"sqlite:///{tmp}"
    upgrade(url)
    eng = make_engine(url)
    for level in (1, 2, 3):  # the leaders the escalations are assigned to
        add_user(eng, f"leader{level}", "leader", level=level, town="玉海街道" if level == 2 else None)
    eng.dispose()
    con = sqlite3.connect(tmp, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='cases' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:  # build the secondary indexes once, after the load
        con.execute(f'DROP INDEX "{name}"')
    cols = dataset.COLUMNS
    sql = f"INSERT INTO cases ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    con.execute("BEGIN")
    batch: list[tuple] = []
    for row in dataset.sqlite_rows(n):
        batch.append(row)
        if len(batch) >= 50_000:
            con.executemany(sql, batch)
            batch.clear()
    con.executemany(sql, batch)
    con.execute("COMMIT")
    t_insert = time.perf_counter() - t0
    for _, ddl in indexes:
        con.execute(ddl)
    con.execute("ANALYZE")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    os.replace(tmp, path)
    res.fig(
        "built database",
        f"{n:,} cases: generate+insert {t_insert:.1f} s, total {time.perf_counter() - t0:.1f} s",
    )


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run(
    *,
    quick: bool = False,
    cases: int | None = None,
    reps: int | None = None,
    profile: bool = False,
    workdir: Path,
) -> Result:
    n = cases or (50_000 if quick else 1_000_000)
    reps = reps or (3 if quick else 5)
    header(f"sweep: escalation sweep over {n:,} cases (SQLite) vs the raw overdue query")
    res = Result("sweep", f"Escalation sweep, {n:,} cases")
    OUT.mkdir(exist_ok=True)
    key = f"{schema_hash(workdir)}-g{dataset.GENERATOR_VERSION}"
    path = OUT / f"sweep-{n}-{key}.db"
    if path.exists():
        res.fig(
            "database", f"cached {path.relative_to(OUT.parent.parent)} ({path.stat().st_size / 1e6:.0f} MB)"
        )
    else:
        for old in OUT.glob(f"sweep-{n}-*.db*"):
            old.unlink()
        build(path, n, res)

    from sqlmodel import Session

    from flows.escalation import sweep
    from models.db import make_engine

    now = dataset.NOW
    now_s = dataset.sqlite_value(now)
    engine = make_engine(f"sqlite:///{path}")
    raw = engine.raw_connection()
    cur = raw.cursor()
    plan = " | ".join(r[-1] for r in cur.execute("EXPLAIN QUERY PLAN " + RAW_INDEX, (now_s,)).fetchall())
    n_raw = len(cur.execute(RAW_SCAN, (now_s,)).fetchall())
    n_idx = len(cur.execute(RAW_INDEX, (now_s,)).fetchall())
    n_due = len(cur.execute(SWEEP_READ, (now_s,)).fetchall())
    # Warm the page cache for every form alike, then time them interleaved.
    t_scan = timed(lambda: cur.execute(RAW_SCAN, (now_s,)).fetchall(), reps)
    t_index = timed(lambda: cur.execute(RAW_INDEX, (now_s,)).fetchall(), reps)
    t_read = timed(lambda: cur.execute(SWEEP_READ, (now_s,)).fetchall(), reps)
    raw.close()

    first: list[float] = []
    second: list[float] = []
    escalated = again = 0
    period = dataset.PERIOD
    prof = cProfile.Profile() if profile else None
    for i in range(reps + 1):  # one warm-up round, not counted
        with Session(engine.execution_options(immediate=True)) as session:
            t0 = time.perf_counter()
            if prof and i == reps:
                prof.enable()
            r1 = sweep(session, now=now, period=period)
            t1 = time.perf_counter()
            if prof and i == reps:
                prof.disable()
            r2 = sweep(session, now=now, period=period)
            t2 = time.perf_counter()
            session.rollback()
        escalated, again = len(r1), len(r2)
        if i:
            first.append(t1 - t0)
            second.append(t2 - t1)
    engine.dispose()

    res.fig("raw query rows (open, stage_due_at <= now)", f"{n_raw:,} (index form {n_idx:,})")
    res.fig("newly due (next_escalation_at <= now)", f"{n_due:,}")
    res.fig("index form plan", plan)
    res.fig("raw query, scan form (NOT INDEXED)", f"median {ms(median(t_scan))}  min {ms(min(t_scan))}")
    res.fig("raw query, index-backed form", f"median {ms(median(t_index))}  min {ms(min(t_index))}")
    res.fig("sweep's own read alone (ix_cases_next_escalation_at)", f"median {ms(median(t_read))}")
    res.fig(
        "sweep #1 (escalates, writes, rolled back)",
        f"median {ms(median(first))}  min {ms(min(first))}  escalations {escalated}",
    )
    res.fig(
        "sweep #2 right after (must escalate nothing)", f"median {ms(median(second))}  escalations {again}"
    )
    if again:
        res.note(f"the second sweep escalated {again} cases: NOT idempotent")
    res.note(
        "sweep timed without its COMMIT (rolled back to keep the cached file; WAL + synchronous=NORMAL "
        "makes the commit a WAL append, no fsync)"
    )
    ok_counts = escalated >= n_due and again == 0
    res.check(
        "sweep vs raw overdue query (no index)",
        measured=ms(median(first)),
        baseline=ms(median(t_scan)),
        ratio=median(first) / median(t_scan),
        target=f"<= {TARGET}x",
        passed=median(first) / median(t_scan) <= TARGET and ok_counts,
    )
    # Reported, not judged: a covering-index read of ids against a sweep that also writes every
    # escalation, audit event and case update (the second sweep is a read-only no-op: the fair pair).
    res.check(
        "(info) sweep vs raw query (index-backed)",
        measured=ms(median(first)),
        baseline=ms(median(t_index)),
        ratio=median(first) / median(t_index),
        target=f"<= {TARGET}x",
        passed=None,
    )
    res.check(
        "(info) 2nd sweep vs raw query (index-backed)",
        measured=ms(median(second)),
        baseline=ms(median(t_index)),
        ratio=median(second) / median(t_index),
        target=f"<= {TARGET}x",
        passed=None,
    )
    if prof:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(18)
        print(buf.getvalue())
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cases", type=int, help="cases for sweep/dashboard (default 1,000,000; quick 50,000)")
    p.add_argument("--reps", type=int, help="timed repetitions (sweep)")
    p.add_argument(
        "--profile", action="store_true", help="print a cProfile of one run (sweep, dashboard, ...)"
    )
