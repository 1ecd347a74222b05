"""The outbox relay's leases: several workers take distinct runs, a killed holder's runs are taken up again
as soon as its lease runs out (not ten minutes after they were created), a live holder's heartbeat keeps
them, and a pool of relay workers clears a backlog left by a killed process."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from models.case import Case
from models.db import session_scope, utcnow
from models.document import Document
from models.outbox import enqueue
from models.process_run import ProcessRun
from runtime.relay import (
    MAX_ATTEMPTS,
    Heartbeat,
    Relay,
    claim,
    claim_next,
    reclaim_expired,
)
from tests.factories import neighbor_case

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


def _enqueue(engine, keys: list[str]) -> None:
    with session_scope(engine, write=True) as session:
        for key in keys:
            enqueue(session, flow="intake", key=key, case_id=None)


def _run(engine, key: str) -> ProcessRun:
    with Session(engine) as session:
        return session.exec(select(ProcessRun).where(ProcessRun.key == key)).one()


def test_concurrent_workers_claim_distinct_runs(engine) -> None:
    keys = [f"lease-test:{i}" for i in range(40)]
    _enqueue(engine, keys)
    taken: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(owner: str) -> None:
        barrier.wait()
        mine: list[str] = []
        try:
            while (key := claim_next(engine, owner=owner)) is not None:
                mine.append(key)
        except BaseException as exc:  # reported below, with the thread's owner
            errors.append(exc)
        taken[owner] = mine

    threads = [threading.Thread(target=worker, args=(f"worker-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    claimed = [key for mine in taken.values() for key in mine]
    assert len(claimed) == len(set(claimed)) == 40  # each run exactly once
    assert set(claimed) == set(keys)
    for owner, mine in taken.items():
        for key in mine:
            run = _run(engine, key)
            assert (run.status, run.claimed_by, run.attempts) == ("running", owner, 1)
            assert run.lease_until is not None


def test_expired_lease_is_reclaimed_at_once(engine) -> None:
    _enqueue(engine, ["lease-test:dead"])
    t0 = utcnow()
    assert (
        claim_next(engine, owner="killed-process", now=t0, lease=timedelta(seconds=30)) == "lease-test:dead"
    )
    # Still held: nobody else gets it, nothing is reclaimed.
    assert reclaim_expired(engine, now=t0 + timedelta(seconds=29)) == 0
    assert claim_next(engine, owner="survivor", now=t0 + timedelta(seconds=29)) is None
    # The holder stopped renewing 31 s ago: the run was created 31 s ago too, far from the old 10 minutes.
    assert reclaim_expired(engine, now=t0 + timedelta(seconds=31)) == 1
    run = _run(engine, "lease-test:dead")
    assert (run.status, run.claimed_by, run.lease_until) == ("retry", None, None)
    assert claim_next(engine, owner="survivor", now=t0 + timedelta(seconds=31)) == "lease-test:dead"
    run = _run(engine, "lease-test:dead")
    assert (run.status, run.claimed_by, run.attempts) == ("running", "survivor", 2)


# A relay process: claims one run with an hour's lease, says who it is, and waits to be killed.
_HOLDER = """
import sys, time
from datetime import timedelta
from pathlib import Path
from runtime.relay import claim, relay_owner
from models.db import make_engine
owner = relay_owner()
assert claim(make_engine(sys.argv[1]), "lease-test:killed", owner=owner, lease=timedelta(hours=1))
Path(sys.argv[2]).write_text(owner)
time.sleep(600)
"""


def test_a_killed_holders_runs_are_reclaimed_before_its_lease_ends(engine, tmp_path) -> None:
    """A relay process on this machine claims a run with an hour's lease and is killed -9: the next
    reclaim takes the run back at once (the holder is gone for sure), not an hour later. While the
    holder lives, nothing is taken from it; a holder elsewhere (another owner format) keeps its lease."""
    import os
    import signal
    import subprocess
    import sys

    _enqueue(engine, ["lease-test:killed", "lease-test:elsewhere"])
    url = engine.url.render_as_string(hide_password=False)
    ready = tmp_path / "claimed"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _HOLDER,
            url,
            str(ready),
        ],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), "the holder process did not claim its run"
        owner = ready.read_text()
        assert claim(
            engine, "lease-test:elsewhere", owner="other-host:1234:abcdef01", lease=timedelta(hours=1)
        )
        # Alive: its lease holds.
        assert reclaim_expired(engine) == 0
        assert claim_next(engine, owner="survivor") is None
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert reclaim_expired(engine) == 1  # an hour of lease left, taken back at once
    run = _run(engine, "lease-test:killed")
    assert (run.status, run.claimed_by, run.lease_until) == ("retry", None, None)
    assert claim_next(engine, owner="survivor") == "lease-test:killed"
    assert _run(engine, "lease-test:killed").attempts == 2
    elsewhere = _run(engine, "lease-test:elsewhere")
    assert (elsewhere.status, elsewhere.claimed_by) == ("running", "other-host:1234:abcdef01")
    assert owner.split(":")[1] == str(holder.pid)


def test_a_claimed_run_is_not_claimed_twice_by_key(engine) -> None:
    _enqueue(engine, ["lease-test:k"])
    assert claim(engine, "lease-test:k", owner="a")
    assert not claim(engine, "lease-test:k", owner="b")
    assert _run(engine, "lease-test:k").claimed_by == "a"


def test_heartbeat_keeps_the_lease_while_the_holder_lives(engine) -> None:
    _enqueue(engine, ["lease-test:slow"])
    lease = timedelta(seconds=1)
    assert claim_next(engine, owner="alive", lease=lease) == "lease-test:slow"
    with Heartbeat(engine, "lease-test:slow", owner="alive", lease=lease, interval=0.2):
        # Three lease lengths of work: without the heartbeat the run would be reclaimed meanwhile.
        for _ in range(6):
            time.sleep(0.5)
            assert reclaim_expired(engine) == 0
            assert claim_next(engine, owner="other") is None
    assert _run(engine, "lease-test:slow").claimed_by == "alive"
    time.sleep(1.3)  # the heartbeat stopped (the holder "died"): the lease runs out
    assert reclaim_expired(engine) == 1
    assert claim_next(engine, owner="other") == "lease-test:slow"


def test_a_run_that_keeps_losing_its_holder_is_flagged(engine, as_user) -> None:
    staff = as_user("clerk")
    case = staff.post("/cases", neighbor_case()).json()
    key = f"intake:{case['id']}"
    now = utcnow()
    with session_scope(engine) as session:
        session.exec(
            update(ProcessRun)
            .where(col(ProcessRun.key) == key)
            .values(status="running", attempts=MAX_ATTEMPTS, claimed_by="dead", lease_until=now)
        )
    assert reclaim_expired(engine, now=now + timedelta(seconds=1)) == 0
    run = _run(engine, key)
    assert run.status == "failed" and "中断" in (run.last_error or "")
    with Session(engine) as session:
        flagged = session.get(Case, case["id"])
        assert flagged is not None and flagged.flagged and "自动流程" in (flagged.flag_reason or "")


@pytest.mark.prefect
def test_relay_pool_clears_what_a_killed_process_left(engine, as_user) -> None:
    """Intakes whose flows were left half-way by a killed process (running, lease run out) and others
    still pending: a fresh relay pool runs every one once, at once."""
    staff = as_user("clerk")
    case_ids = [staff.post("/cases", neighbor_case()).json()["id"] for _ in range(6)]
    keys = [f"intake:{cid}" for cid in case_ids]
    with session_scope(engine) as session:
        session.exec(
            update(ProcessRun)
            .where(col(ProcessRun.key).in_(keys[:3]))
            .values(
                status="running", attempts=1, claimed_by="killed", lease_until=utcnow() - timedelta(seconds=1)
            )
        )
    relay = Relay(engine, workers=3, interval=0.2).start()
    try:
        assert relay.ready.wait(240), "Prefect did not start"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with Session(engine) as session:
                done = session.exec(
                    select(func.count()).where(
                        col(ProcessRun.key).in_(keys), ProcessRun.status == "completed"
                    )
                ).one()
            if done == len(keys):
                break
            time.sleep(0.3)
    finally:
        relay.stop()
    with Session(engine) as session:
        runs = session.exec(select(ProcessRun).where(col(ProcessRun.key).in_(keys))).all()
        assert {r.key: r.status for r in runs} == dict.fromkeys(keys, "completed")
        assert {r.key: r.attempts for r in runs} == {k: (2 if k in keys[:3] else 1) for k in keys}
        owners = {r.claimed_by for r in runs}
        assert "killed" not in owners and len(owners) == 1  # one relay (its workers share its owner id)
        # Each intake issued its documents once, however many times its flow was started.
        per_case = session.exec(
            select(Document.case_id, Document.kind, func.count())
            .where(col(Document.case_id).in_(case_ids))
            .group_by(col(Document.case_id), col(Document.kind))
        ).all()
    assert per_case and all(count == 1 for _cid, _kind, count in per_case)
    assert {cid for cid, _kind, _count in per_case} == set(case_ids)
