"""Pages at 1,000,000 cases on PostgreSQL under 20 concurrent users: p95 < 300 ms per page.

A scratch database is migrated and loaded with the dashboard benchmark's 1M-case COPY loader
(bench/dataset.py rows, indexes rebuilt, VACUUM ANALYZE); a staff clerk and a level-1 leader are added
and a few hundred cases get parties and unresolved 督办 rows so that the case page and the holding list
have something to show. Our app runs under uvicorn (one process, 127.0.0.1, no relay), each user logs in
through the login form (session cookie), and C concurrent httpx clients walk the pages round-robin:
workbench, the case list (no filter and each filter), a case page, the dashboard, the holding list.
Every page is timed (p50/p95 over all its requests); target p95 < 300 ms for each. Also reported: the
server's RSS after all the requests (item 6 of issue 13 is reported by the memory benchmark too).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import time
from pathlib import Path

import httpx

from bench.common import (
    PgDatabase,
    Result,
    Server,
    header,
    make_staff,
    median,
    ms,
    pct,
    postgres_available,
    rss_mb,
)
from models.party_lookup import digest

TARGET_MS = 300
# Think time between a user's clicks (uniform). People read a page for several seconds; 1–3 s is a
# fast clerk, and 20 such users ask for about 10 pages a second. Without any pause 20 "users" are 20
# requests always in flight, a load no 20 people make; it is measured too, as the saturation figure.
THINK_S = (1.0, 3.0)
LEADER = "bench_leader"
PHONE = "13800000000"


def _extras(url: str, *, cases_with_parties: int, escalations: int) -> tuple[list[int], int]:
    """Users, parties and 督办 rows on top of the COPY-loaded cases; returns case ids to open and the
    leader's id."""
    from sqlalchemy import text

    from models.db import make_engine
    from tests.factories import add_user

    eng = make_engine(url)
    make_staff(eng)
    leader = add_user(eng, LEADER, "leader", level=1, display_name="基准测试领导")
    with eng.begin() as conn:
        open_ids = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT id FROM cases WHERE stage IN ('accepted','panel_formed','in_mediation') "
                    "ORDER BY id DESC LIMIT :n"
                ),
                {"n": max(cases_with_parties, escalations)},
            )
        ]
        conn.execute(
            text(
                "INSERT INTO parties (case_id, role, kind, name, phone, phone_hash, is_representative, "
                "version) SELECT id, r.role, 'person', r.name, :phone, :phone_hash, false, 1 FROM cases, "
                "(VALUES ('applicant', '陈阿大'), ('respondent', '林小二')) AS r(role, name) "
                "WHERE id = ANY(:ids)"
            ),
            # The hash the server computes too (same TIAOJIE_SECRET_KEY): the phone search finds them.
            {"ids": open_ids[:cases_with_parties], "phone": PHONE, "phone_hash": digest("phone", PHONE)},
        )
        conn.execute(
            text("UPDATE cases SET escalation_level = 1 WHERE id = ANY(:ids) AND escalation_level = 0"),
            {"ids": open_ids[:escalations]},
        )
        conn.execute(
            text(
                "INSERT INTO escalations (case_id, stage, stage_seq, period_index, from_level, to_level,"
                " reason, assignee_id, created_at, status) SELECT id, stage, stage_seq, 0, 0, 1,"
                " '超期未办结', :leader, now(), 'assigned' FROM cases WHERE id = ANY(:ids)"
            ),
            {"ids": open_ids[:escalations], "leader": leader},
        )
        conn.execute(text("ANALYZE parties; ANALYZE escalations"))
    eng.dispose()
    return open_ids[:cases_with_parties], leader


def _case_ids(url: str) -> list[int]:
    from sqlalchemy import text

    from models.db import make_engine

    eng = make_engine(url)
    with eng.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT DISTINCT case_id FROM parties LIMIT 300"))]
    eng.dispose()
    return ids


def _login(client: httpx.Client, username: str) -> None:
    from tests.factories import PASSWORD

    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if not csrf:
        raise RuntimeError(f"login page without csrf: {page.status_code}")
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1)})
    if r.status_code != 303:
        raise RuntimeError(f"login {username}: {r.status_code} {r.text[:300]}")


def pages(case_ids: list[int]) -> list[tuple[str, str, str]]:
    """(label, who, path): what the bounded load walks."""
    town = "塘下镇"
    return [
        ("workbench", "staff", "/workbench"),
        ("case list", "staff", "/cases"),
        ("case list stage=in_mediation", "staff", "/cases?stage=in_mediation"),
        ("case list category=labor", "staff", "/cases?category=labor"),
        ("case list town", "staff", f"/cases?town={town}"),
        ("case list overdue=1", "staff", "/cases?overdue=1"),
        ("case list overdue=0", "staff", "/cases?overdue=0"),
        ("case list q=工资", "staff", "/cases?q=工资"),
        ("case list q=case number", "staff", "/cases?q=00017"),
        ("case list q=party name", "staff", "/cases?q=林小二"),
        ("case list q=phone (keyed hash)", "staff", f"/cases?q={PHONE}"),
        ("case list page 50", "staff", "/cases?page=50"),
        ("case page", "staff", "/cases/{id}"),
        ("dashboard", "leader", "/dashboard"),
        ("holding list", "leader", "/holding"),
    ]


async def _walk(
    base: str,
    cookies: dict[str, httpx.Cookies],
    plan: list[tuple[str, str, str]],
    case_ids: list[int],
    *,
    n: int,
    concurrency: int,
    think: tuple[float, float] | None = None,
) -> tuple[dict[str, list[float]], list[str]]:
    times: dict[str, list[float]] = {label: [] for label, _, _ in plan}
    errors: list[str] = []
    counter = 0
    rng = random.Random(7)
    # Each simulated user walks the whole plan from its own starting point, with its own connections
    # (a staff session for the staff pages, a leader session for the leaders' pages).
    users = [
        {who: httpx.AsyncClient(base_url=base, cookies=jar, timeout=120) for who, jar in cookies.items()}
        for _ in range(concurrency)
    ]

    async def user(i: int) -> None:
        nonlocal counter
        j = i
        while counter < n:
            counter += 1
            label, who, path = plan[j % len(plan)]
            j += 1
            path = path.replace("{id}", str(rng.choice(case_ids)))
            t0 = time.perf_counter()
            r = await users[i][who].get(path)
            times[label].append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors.append(f"{path}: {r.status_code} {r.text[:200]}")
            if think:
                # A person reads the page before the next click.
                await asyncio.sleep(rng.uniform(*think))

    try:
        await asyncio.gather(*(user(i) for i in range(concurrency)))
    finally:
        for pair in users:
            for c in pair.values():
                await c.aclose()
    return times, errors


def run(
    *,
    quick: bool = False,
    cases: int | None = None,
    page_requests: int | None = None,
    users: int = 20,
    pages_db: str | None = None,
    keep_pages_db: bool = False,
    workdir: Path,
) -> Result:
    n_cases = cases or (50_000 if quick else 1_000_000)
    n_req = page_requests or (400 if quick else 3000)
    header(f"pages: workbench, case list, case page, dashboard, holding at {n_cases:,} cases (PostgreSQL)")
    res = Result("pages", f"Pages at {n_cases:,} cases, PostgreSQL, {users} users")
    if not postgres_available():
        res.note("PostgreSQL not reachable: skipped")
        return res
    from contextlib import ExitStack

    from bench.bench_dashboard import load

    with ExitStack() as stack:
        if pages_db:
            # A database loaded by an earlier run (kept with --keep-pages-db): its cases and users.
            url = pages_db
            case_ids = _case_ids(url)
            res.note(f"reused the loaded database {url.rsplit('/', 1)[-1]}")
        else:
            db = stack.enter_context(PgDatabase("pages", keep=keep_pages_db))
            url = db.url
            load(url, n_cases, res)
            case_ids, _leader = _extras(url, cases_with_parties=300, escalations=200)
            if keep_pages_db:
                res.note(f"kept the loaded database: --pages-db {url}")
        with Server("tiaojie", url, workdir=workdir) as srv:
            cookies: dict[str, httpx.Cookies] = {}
            for who, username in (("staff", "bench_clerk"), ("leader", LEADER)):
                with httpx.Client(base_url=srv.base, timeout=120) as c:
                    _login(c, username)
                    cookies[who] = c.cookies
            plan = pages(case_ids)
            # Warm-up: each page once per user kind (first-use imports, caches, plans).
            asyncio.run(_walk(srv.base, cookies, plan, case_ids, n=2 * len(plan), concurrency=4))
            # One user alone first: what each page costs without queueing behind the others.
            alone, _ = asyncio.run(_walk(srv.base, cookies, plan, case_ids, n=5 * len(plan), concurrency=1))
            t0 = time.perf_counter()
            times, errors = asyncio.run(
                _walk(srv.base, cookies, plan, case_ids, n=n_req, concurrency=users, think=THINK_S)
            )
            wall = time.perf_counter() - t0
            # Saturation, as information: the same users clicking again the moment a page arrives.
            t1 = time.perf_counter()
            flat, _ = asyncio.run(
                _walk(srv.base, cookies, plan, case_ids, n=max(len(plan), n_req // 5), concurrency=users)
            )
            flat_wall = time.perf_counter() - t1
            rss = rss_mb(srv.proc.pid) if srv.proc else 0.0
    total = sum(len(t) for t in times.values())
    res.fig(
        "load",
        f"{total} page requests by {users} concurrent users, each reading a page {THINK_S[0]:g}–"
        f"{THINK_S[1]:g} s before the next click, in {wall:.1f} s = {total / wall:.1f}/s",
    )
    flat_n = sum(len(t) for t in flat.values())
    flat_all = [x for t in flat.values() for x in t]
    res.fig(
        "saturation (info)",
        f"{flat_n} requests by {users} users without pause: {flat_n / flat_wall:.1f} pages/s, "
        f"p50 {ms(median(flat_all))} p95 {ms(pct(flat_all, 95))} (every page queued behind 19 others)",
    )
    res.fig("server RSS after the load", f"{rss:.0f} MB (uvicorn, one process)")
    if errors:
        res.note(f"{len(errors)} errors, first: {errors[0]}")
    worst = 0.0
    for label, t in times.items():
        if not t:
            continue
        p95 = pct(t, 95)
        worst = max(worst, p95)
        solo = alone.get(label) or [float("nan")]
        res.fig(
            f"{label}",
            f"p50 {ms(median(t))}  p95 {ms(p95)}  max {ms(max(t))}  (n={len(t)}); "
            f"one user alone: median {ms(median(solo))}",
        )
        res.check(
            f"page p95: {label}",
            measured=f"p95 {ms(p95)}",
            baseline="-",
            ratio=p95 * 1000 / TARGET_MS,
            target=f"< {TARGET_MS} ms",
            passed=p95 * 1000 < TARGET_MS and not errors,
        )
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--page-requests", type=int, help="page requests in all (pages; default 3000, quick 400)")
    p.add_argument("--users", type=int, default=20, help="concurrent users (pages; default 20)")
    p.add_argument("--pages-db", help="reuse a database loaded by an earlier pages run (its URL)")
    p.add_argument("--keep-pages-db", action="store_true", help="keep the loaded database (pages)")
