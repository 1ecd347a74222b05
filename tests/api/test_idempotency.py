"""Idempotency-Key (issue 12): a client that retries a creating request after a lost answer gets the
first answer again, and nothing is created twice."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.idempotency import fingerprint
from api.main import create_app
from models.case import Case
from models.db import session_scope, utcnow
from models.expert import Expert
from models.idempotency import IdempotencyKey, KeyInFlight, claim, purge
from tests.factories import PASSWORD, add_user, neighbor_case

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

KEY = "Idempotency-Key"


def _post(api, path: str, body: dict, key: str):
    """A logged-in client's POST with an Idempotency-Key."""
    return api.client.post(f"/api/v1{path}", json=body, headers={**api.headers, KEY: key})


def _cases(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Case)).one()


def _keys(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(IdempotencyKey)).one()


def test_a_retry_after_a_lost_answer_creates_one_case(engine: Engine, as_user) -> None:
    staff = as_user("clerk")
    body = neighbor_case()
    first = _post(staff, "/cases", body, "intake-7f3a")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # The answer was lost on the way: the client sends the same request again, same key.
    again = _post(staff, "/cases", body, "intake-7f3a")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert _cases(engine) == 1
    # The same content with its keys in another order is the same request.
    reordered = dict(reversed(list(body.items())))
    assert _post(staff, "/cases", reordered, "intake-7f3a").status_code == 201
    assert _cases(engine) == 1
    # Without a key each request is a new intake, as before.
    assert staff.post("/cases", body).status_code == 201
    assert _cases(engine) == 2


def test_the_same_key_with_another_body_is_refused(engine: Engine, as_user) -> None:
    staff = as_user("clerk")
    key = "intake-0001"
    assert _post(staff, "/cases", neighbor_case(), key).status_code == 201
    other = neighbor_case(summary="另一起纠纷：两户因排水沟堵塞发生争执。")
    r = _post(staff, "/cases", other, key)
    assert r.status_code == 422
    (issue,) = r.json()["detail"]
    assert issue["loc"] == ["header", KEY] and "已用于另一个请求" in issue["msg"]
    assert _cases(engine) == 1
    # The same key on another route is another request too.
    assert (
        _post(staff, "/cases/1/sessions", {"scheduled_at": "2030-01-07T09:00:00+08:00"}, key).status_code
        == 422
    )


def test_keys_belong_to_their_user(engine: Engine, client: TestClient, as_user) -> None:
    add_user(engine, "clerk2", "staff")
    token = client.post("/api/v1/auth/token", data={"username": "clerk2", "password": PASSWORD}).json()
    other = {"Authorization": f"Bearer {token['access_token']}", KEY: "shared-key"}
    staff = as_user("clerk")
    assert _post(staff, "/cases", neighbor_case(), "shared-key").status_code == 201
    r = client.post("/api/v1/cases", json=neighbor_case(), headers=other)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert _cases(engine) == 2


def test_a_refused_first_attempt_leaves_the_key_free(engine: Engine, as_user) -> None:
    staff = as_user("clerk")
    key = "intake-retry-after-fix"
    bad = neighbor_case(parties=[])  # no parties: refused
    r = _post(staff, "/cases", bad, key)
    assert r.status_code == 422
    assert _keys(engine) == 0 and _cases(engine) == 0
    # The clerk adds the parties and sends again with the same key: created, not "another body".
    assert _post(staff, "/cases", neighbor_case(), key).status_code == 201
    assert _cases(engine) == 1


def test_a_duplicate_while_the_first_is_in_flight_is_409(engine: Engine, users, as_user) -> None:
    staff = as_user("clerk")
    body = neighbor_case()
    # Another request with this key has claimed it and not answered yet (its claim is committed).

    print_ = fingerprint("POST", "/api/v1/cases", json.dumps(body).encode())
    assert claim(engine, user_id=users["clerk"], key="in-flight", fingerprint=print_, now=utcnow()) is None
    r = _post(staff, "/cases", body, "in-flight")
    assert (
        r.status_code == 409
        and r.json()["detail"] == "使用同一幂等键（Idempotency-Key）的请求正在处理中，请稍后重试"
    )
    assert _cases(engine) == 0


def test_concurrent_duplicates_create_one_case(engine: Engine, app, users) -> None:
    with TestClient(app) as login:
        token = login.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}", KEY: "burst-1"}
    body = neighbor_case()
    barrier = threading.Barrier(6)
    answers: list = []

    def send() -> None:
        with TestClient(app) as c:
            barrier.wait()
            answers.append(c.post("/api/v1/cases", json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in answers} <= {201, 409}, [r.text for r in answers]
    created = [r for r in answers if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(created) == 1
    assert all(r.json() == created[0].json() for r in answers if r.status_code == 201)
    assert _cases(engine) == 1


def test_other_creating_routes_replay_too(engine: Engine, as_user) -> None:
    admin = as_user("admin")
    expert = {
        "name": "周律师",
        "kind": "lawyer",
        "towns": [],
        "specialties": ["neighbor"],
        "max_active_cases": 3,
    }
    before = _count_experts(engine)
    first = _post(admin, "/experts", expert, "expert-1")
    assert first.status_code == 201, first.text
    again = _post(admin, "/experts", expert, "expert-1")
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert _count_experts(engine) == before + 1


def _count_experts(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Expert)).one()


CREATING = {
    ("post", "/api/v1/cases"),
    ("post", "/api/v1/cases/{case_id}/sessions"),
    ("post", "/api/v1/cases/{case_id}/sessions/{sid}/record"),
    ("post", "/api/v1/cases/{case_id}/recusals"),
    ("post", "/api/v1/cases/{case_id}/agreement"),
    ("post", "/api/v1/cases/{case_id}/follow-ups"),
    ("post", "/api/v1/cases/{case_id}/opinions"),
    ("post", "/api/v1/experts"),
    ("post", "/api/v1/escalations/{escalation_id}/instructions"),
    ("post", "/api/v1/escalations/{escalation_id}/urge"),
    ("post", "/api/v1/escalations/{escalation_id}/feedback"),
}


def test_openapi_declares_the_header_on_every_creating_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    declared = {
        (method, path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if any(p.get("in") == "header" and p.get("name") == KEY for p in op.get("parameters", []))
    }
    assert declared >= CREATING
    # Every POST that answers 201 Created is among them.
    created = {
        (m, p)
        for p, ops in spec["paths"].items()
        for m, op in ops.items()
        if m == "post" and "201" in op["responses"]
    }
    # The online application has no account to keep a key under (api/idempotency.py keys are per user):
    # it is rate-limited per address instead, and staff review what arrives.
    # The upload streams its file under the 20 MB cap, which a key's fingerprint of the whole body would
    # read first; the same file sent again is the same SHA-256 in the archive.
    assert (
        created - {("post", "/api/v1/public/applications"), ("post", "/api/v1/cases/{case_id}/attachments")}
        <= declared
    )


def test_keys_expire_after_a_day_and_a_dead_claim_after_its_lease(engine: Engine, users) -> None:
    t0 = utcnow()
    user = users["clerk"]
    assert claim(engine, user_id=user, key="k", fingerprint="a" * 64, now=t0) is None
    with pytest.raises(KeyInFlight):
        claim(engine, user_id=user, key="k", fingerprint="a" * 64, now=t0 + timedelta(minutes=1))
    # Its process died (no answer after the lease): a retry takes the key over.
    assert claim(engine, user_id=user, key="k", fingerprint="a" * 64, now=t0 + timedelta(minutes=3)) is None
    with session_scope(engine, write=True) as session:
        assert purge(session, now=t0 + timedelta(hours=23)) == 0
        assert purge(session, now=t0 + timedelta(hours=25)) == 1
    assert _keys(engine) == 0


def test_a_fresh_app_replays_what_another_process_stored(engine: Engine, app, users) -> None:
    # Keys live in the database, not in a process: a retry that reaches another web process replays too.
    with TestClient(app) as one, TestClient(create_app(engine)) as two:
        token = one.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}", KEY: "cross-process"}
        first = one.post("/api/v1/cases", json=neighbor_case(), headers=headers)
        again = two.post("/api/v1/cases", json=neighbor_case(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert _cases(engine) == 1
