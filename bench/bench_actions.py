"""5. User-action latency (server-mode semantics): p95 of `POST /cases/{id}/accept` and of
`POST /cases/{id}/sessions/{sid}/record`, target < 300 ms.

Our app under uvicorn in a subprocess (as for intake), with no relay thread: the request records the
input and its outbox row and returns; nothing runs the flows (in server mode the relay hands them to
Prefect workers after the commit, off the request path). One client, sequential requests, keep-alive,
each case a different one. Set-up (untimed except where shown): N cases registered through the API;
after the accepts, a panel confirmed and a session scheduled per case (timed too, for information).
Baseline: a bare FastAPI+SQLModel endpoint updating one row per request, same server set-up and client.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import (
    PgDatabase,
    Result,
    Server,
    header,
    login,
    make_staff,
    median,
    ms,
    pct,
    postgres_available,
)

TARGET_MS = 300


def _timed(client: httpx.Client, method: str, url: str, body: dict | None, expect: int) -> float:
    t0 = time.perf_counter()
    r = client.request(method, url, json=body)
    dt = time.perf_counter() - t0
    if r.status_code != expect:
        raise RuntimeError(f"{method} {url}: {r.status_code} {r.text[:300]}")
    return dt


def _backend(res: Result, backend: str, url: str, bare_url: str, *, n: int, workdir: Path) -> None:
    from models.db import make_engine
    from models.migrate import upgrade
    from tests.factories import add_expert, neighbor_case

    upgrade(url)
    eng = make_engine(url)
    make_staff(eng)
    lead = add_expert(
        eng,
        name="李调解",
        kind="mediator",
        towns=["塘下镇"],
        specialties=["neighbor"],
        max_active_cases=100_000,
    )
    elder = add_expert(
        eng, name="陈乡贤", kind="elder", towns=["塘下镇"], specialties=["neighbor"], max_active_cases=100_000
    )
    eng.dispose()
    times: dict[str, list[float]] = {k: [] for k in ("accept", "panel", "schedule", "record", "bare")}
    with Server("tiaojie", url, workdir=workdir) as srv, Server("bare", bare_url, workdir=workdir) as bare:
        headers = login(srv.base)
        with (
            httpx.Client(base_url=f"{srv.base}/api/v1", headers=headers, timeout=60) as c,
            httpx.Client(base_url=bare.base, timeout=60) as b,
        ):
            ids = [c.post("/cases", json=neighbor_case()).json()["id"] for _ in range(n + 3)]
            bare_ids = [b.post("/bare/cases", json=neighbor_case()).json()["id"] for _ in range(n + 3)]
            for i, cid in enumerate(ids):  # the first 3 are warm-up
                dt = _timed(c, "POST", f"/cases/{cid}/accept", {}, 200)
                dtb = _timed(b, "POST", f"/bare/cases/{bare_ids[i]}/touch", None, 200)
                if i >= 3:
                    times["accept"].append(dt)
                    times["bare"].append(dtb)
            members = {
                "members": [{"expert_id": lead, "role": "lead"}, {"expert_id": elder, "role": "member"}]
            }
            start = datetime.now(UTC) + timedelta(days=2)
            sids = []
            for i, cid in enumerate(ids):
                dt = _timed(c, "PUT", f"/cases/{cid}/panel", members, 200)
                if i >= 3:
                    times["panel"].append(dt)
                when = (start + timedelta(hours=3 * i)).isoformat()
                t0 = time.perf_counter()
                r = c.post(f"/cases/{cid}/sessions", json={"scheduled_at": when, "location": f"调解室{i}"})
                if r.status_code != 201:
                    raise RuntimeError(f"schedule: {r.status_code} {r.text[:300]}")
                if i >= 3:
                    times["schedule"].append(time.perf_counter() - t0)
                sids.append(r.json()["id"])
            for i, (cid, sid) in enumerate(zip(ids, sids, strict=True)):
                body = {
                    "held_at": datetime.now(UTC).isoformat(),
                    "attendees": ["陈阿大", "林小二"],
                    "notes": "双方陈述意见，调解员释法说理，约定下次继续调解。",
                    "outcome": "continue",
                }
                dt = _timed(c, "POST", f"/cases/{cid}/sessions/{sid}/record", body, 200)
                if i >= 3:
                    times["record"].append(dt)
    labels = {
        "accept": "POST /cases/{id}/accept",
        "record": "POST /cases/{id}/sessions/{sid}/record",
        "panel": "(info) PUT /cases/{id}/panel",
        "schedule": "(info) POST /cases/{id}/sessions",
        "bare": "bare: update one row",
    }
    for key, label in labels.items():
        t = times[key]
        res.fig(
            f"[{backend}] {label}",
            f"p50 {ms(median(t))}  p95 {ms(pct(t, 95))}  max {ms(max(t))}  (n={len(t)})",
        )
    base = pct(times["bare"], 95)
    for key in ("accept", "record"):
        p95 = pct(times[key], 95)
        res.check(
            f"{key} p95 [{backend}]",
            measured=f"p95 {ms(p95)}",
            baseline=f"p95 {ms(base)}",
            ratio=p95 / base,
            target=f"< {TARGET_MS} ms",
            passed=p95 * 1000 < TARGET_MS,
        )


def run(*, quick: bool = False, postgres: bool = False, actions: int | None = None, workdir: Path) -> Result:
    n = actions or (30 if quick else 200)
    header("actions: latency of accept and record-session, flows not run in the request")
    res = Result("actions", "User-action latency (server mode)")
    res.note(
        "no relay runs in the server: each action commits its input and outbox row and returns; "
        "flows (受理通知书, 笔录 PDF, notices) are not run in or after the request here"
    )
    _backend(
        res,
        "sqlite",
        f"sqlite:///{workdir / 'actions.db'}",
        f"sqlite:///{workdir / 'bare.db'}",
        n=n,
        workdir=workdir,
    )
    if postgres:
        if not postgres_available():
            res.note("PostgreSQL not reachable: skipped")
        else:
            with PgDatabase("actions") as db, PgDatabase("actions_bare") as bare_db:
                _backend(res, "postgresql", db.url, bare_db.url, n=n, workdir=workdir)
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--actions", type=int, help="cases per action (actions; default 200, quick 30)")
