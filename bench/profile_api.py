"""Where an API request's time goes: cProfile over N in-process requests (Starlette TestClient).

    .venv/bin/python -m bench.profile_api intake [-n 200]     # POST /api/v1/cases
    .venv/bin/python -m bench.profile_api record [-n 100]     # POST /cases/{id}/sessions/{sid}/record

Prints the top functions by cumulative time and by own time (the TestClient's own cost is included)."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from datetime import UTC, datetime, timedelta

from bench.common import setup_env


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["intake", "accept", "record"])
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--top", type=int, default=35)
    args = p.parse_args()
    workdir = setup_env()
    from fastapi.testclient import TestClient

    from api.main import create_app
    from models.db import make_engine, use_engine
    from models.migrate import upgrade
    from tests.factories import PASSWORD, add_expert, add_user, neighbor_case

    url = f"sqlite:///{workdir / 'profile.db'}"
    upgrade(url)
    engine = make_engine(url)
    use_engine(engine)
    add_user(engine, "bench_clerk", "staff")
    lead = add_expert(engine, name="李调解", kind="mediator", towns=["塘下镇"], max_active_cases=100_000)
    elder = add_expert(engine, name="陈乡贤", kind="elder", towns=["塘下镇"], max_active_cases=100_000)
    client = TestClient(create_app(engine))
    token = client.post("/api/v1/auth/token", data={"username": "bench_clerk", "password": PASSWORD}).json()
    h = {"Authorization": f"Bearer {token['access_token']}"}
    body = neighbor_case()
    calls = []
    if args.what == "intake":
        client.post("/api/v1/cases", json=body, headers=h)
        calls = [("POST", "/api/v1/cases", body, 201)] * args.n
    else:
        ids = [client.post("/api/v1/cases", json=body, headers=h).json()["id"] for _ in range(args.n)]
        if args.what == "accept":
            calls = [("POST", f"/api/v1/cases/{i}/accept", {}, 200) for i in ids]
        else:
            members = {
                "members": [{"expert_id": lead, "role": "lead"}, {"expert_id": elder, "role": "member"}]
            }
            start = datetime.now(UTC) + timedelta(days=2)
            for k, cid in enumerate(ids):
                client.post(f"/api/v1/cases/{cid}/accept", json={}, headers=h)
                client.put(f"/api/v1/cases/{cid}/panel", json=members, headers=h)
                r = client.post(
                    f"/api/v1/cases/{cid}/sessions",
                    headers=h,
                    json={
                        "scheduled_at": (start + timedelta(hours=3 * k)).isoformat(),
                        "location": f"调解室{k}",
                    },
                )
                sid = r.json()["id"]
                calls.append(
                    (
                        "POST",
                        f"/api/v1/cases/{cid}/sessions/{sid}/record",
                        {
                            "held_at": datetime.now(UTC).isoformat(),
                            "attendees": ["陈阿大", "林小二"],
                            "notes": "继续调解。",
                            "outcome": "continue",
                        },
                        200,
                    )
                )
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for method, path, js, expect in calls:
        r = client.request(method, path, json=js, headers=h)
        assert r.status_code == expect, r.text
    prof.disable()
    dt = time.perf_counter() - t0
    print(
        f"{args.what}: {len(calls)} requests in "
        f"{dt:.2f} s = {dt / len(calls) * 1000:.1f} ms/request (profiled)"
    )
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(args.top)
        print(buf.getvalue())


if __name__ == "__main__":
    main()
