"""1. Intake throughput: `POST /api/v1/cases` of our app vs a bare FastAPI+SQLModel insert endpoint.

Both apps are served the same way (uvicorn, one process, on 127.0.0.1 in a subprocess) on the same kind
of database (a fresh migrated SQLite file with `models.db.make_engine`'s WAL settings, or a scratch
PostgreSQL database), and hammered by the same client (httpx, keep-alive, C concurrent clients, a fixed
number of requests after a warm-up). Target: ours ≥ 0.8× the bare throughput (issue 13).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import PgDatabase, Result, Server, header, login, make_staff, ms, pct, postgres_available
from bench.load import merge, post_load

TARGET = 0.8  # issue 13


def _one_backend(
    res: Result,
    backend: str,
    url_ours: str,
    url_bare: str,
    *,
    n: int,
    warmup: int,
    concurrency: int,
    workdir: Path,
    profile: bool = False,
) -> None:
    from models.db import make_engine
    from models.migrate import upgrade
    from tests.factories import neighbor_case

    upgrade(url_ours)
    eng = make_engine(url_ours)
    make_staff(eng)
    eng.dispose()
    body = neighbor_case()

    # Both servers up at once; the load alternates between them in chunks, so drift in the machine's
    # load (it is shared) hits both alike. Throughput = all requests / all time spent on that app.
    chunks = 4 if n >= 400 else 2
    per = n // chunks
    with (
        Server("bare", url_bare, workdir=workdir) as bare_srv,
        Server("tiaojie", url_ours, workdir=workdir) as srv,
    ):
        headers = login(srv.base)
        targets = {"bare": (f"{bare_srv.base}/bare/cases", {}), "ours": (f"{srv.base}/api/v1/cases", headers)}
        for url, hdrs in targets.values():
            post_load(url, body, headers=hdrs, n=warmup, concurrency=concurrency)
        parts: dict[str, list] = {"bare": [], "ours": []}
        for _ in range(chunks):
            for key, (url, hdrs) in targets.items():
                parts[key].append(post_load(url, body, headers=hdrs, n=per, concurrency=concurrency))
        bare, ours = merge(parts["bare"]), merge(parts["ours"])
        if profile and ours.rps / bare.rps < TARGET:
            _where_the_time_goes(res, backend, srv, bare_srv, targets, body, concurrency, workdir, n)

    for label, r in (("bare FastAPI+SQLModel insert", bare), ("Tiaojie POST /api/v1/cases", ours)):
        res.fig(
            f"[{backend}] {label}",
            f"{r.rps:7.1f} req/s  p50 {ms(pct(r.latencies, 50))}  p95 {ms(pct(r.latencies, 95))}"
            f"  ({r.requests} req, {r.seconds:.1f} s, errors {r.errors})",
        )
        if r.errors:
            res.note(f"[{backend}] {label}: {r.errors} errors, first: {r.first_error}")
    ratio = ours.rps / bare.rps
    res.check(
        f"intake throughput [{backend}]",
        measured=f"{ours.rps:.1f} req/s",
        baseline=f"{bare.rps:.1f} req/s",
        ratio=ratio,
        target=f">= {TARGET}x",
        passed=ratio >= TARGET and not ours.errors and not bare.errors,
    )


def _where_the_time_goes(
    res: Result,
    backend: str,
    srv: Server,
    bare_srv: Server,
    targets: dict[str, tuple[str, dict]],
    body: dict,
    concurrency: int,
    workdir: Path,
    n: int,
) -> None:
    """The target missed: one more load on each app under py-spy (threads holding the GIL, i.e. Python
    at work), and the CPU each spends per request by region of the stack, side by side."""
    from bench.spy_summary import profile_load

    n_prof = max(300, n // 2)
    got = {}
    for key, server in (("bare", bare_srv), ("ours", srv)):
        url, hdrs = targets[key]
        assert server.proc is not None
        got[key] = profile_load(
            server.proc.pid,
            str(workdir / f"spy-{backend}-{key}.txt"),
            lambda url=url, hdrs=hdrs: (
                post_load(url, body, headers=hdrs, n=n_prof, concurrency=concurrency).requests
            ),
        )
    if got["bare"] is None or got["ours"] is None:
        res.note(f"[{backend}] py-spy could not attach (ptrace not permitted): no profile")
        return
    (bare_regions, bare_ms), (our_regions, our_ms) = got["bare"], got["ours"]
    res.fig(
        f"[{backend}] where the time goes (py-spy --gil, {n_prof} req each)",
        f"CPU per request: ours {our_ms:.2f} ms, bare {bare_ms:.2f} ms; by region, ours / bare:",
    )
    for label in sorted(set(our_regions) | set(bare_regions), key=lambda k: -our_regions.get(k, 0.0)):
        res.fig(
            f"    {label}", f"{our_regions.get(label, 0.0):6.2f} ms / {bare_regions.get(label, 0.0):6.2f} ms"
        )
    common = sum(
        min(our_regions.get(k, 0.0), bare_regions.get(k, 0.0))
        for k in ("HTTP server, event loop, threads", "FastAPI/Starlette (routing, request, response)")
    )
    res.note(
        f"[{backend}] at the same HTTP cost ({common:.2f} ms/request in both), 0.8x the bare rate leaves "
        f"{bare_ms / 0.8 - common:.2f} ms of CPU per request for everything an intake does beyond HTTP; "
        f"ours spends {our_ms - common:.2f} ms (table above)"
    )


def run(
    *,
    quick: bool = False,
    postgres: bool = False,
    requests: int | None = None,
    concurrency: int = 4,
    intake_profile: bool = True,
    workdir: Path,
) -> Result:
    header("intake: POST /api/v1/cases throughput vs bare FastAPI+SQLModel insert")
    res = Result("intake", "Intake API throughput")
    n = requests or (300 if quick else 2000)
    warmup = max(20, n // 20)
    res.fig(
        "client",
        f"httpx AsyncClient, keep-alive, {concurrency} concurrent clients, {n} requests "
        f"after {warmup} warm-up, one uvicorn process per app",
    )
    res.note(
        "every intake also writes an outbox row (ProcessRun) for the intake flow; nothing runs the "
        "outbox in this benchmark (server mode: workers run the flows elsewhere), so the flow's "
        "work (related cases, 受理登记表 PDF, 督办单) is not in these figures"
    )
    res.note(
        "bare endpoint: no auth, one INSERT; ours: bearer-token auth, validation, case number counter, "
        "case + 2 parties + audit event + outbox row in one BEGIN IMMEDIATE transaction"
    )
    _one_backend(
        res,
        "sqlite",
        f"sqlite:///{workdir / 'intake.db'}",
        f"sqlite:///{workdir / 'bare.db'}",
        n=n,
        warmup=warmup,
        concurrency=concurrency,
        workdir=workdir,
        profile=intake_profile and not quick,
    )
    if postgres:
        if not postgres_available():
            res.note("PostgreSQL not reachable: skipped")
        else:
            with PgDatabase("intake") as ours_db, PgDatabase("intake_bare") as bare_db:
                _one_backend(
                    res,
                    "postgresql",
                    ours_db.url,
                    bare_db.url,
                    n=n,
                    warmup=warmup,
                    concurrency=concurrency,
                    workdir=workdir,
                    profile=intake_profile and not quick,
                )
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, help="requests per app (default 2000, quick 300)")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument(
        "--no-intake-profile",
        dest="intake_profile",
        action="store_false",
        help="skip the py-spy profile printed when intake misses its target",
    )
