"""4. Per-stage orchestration overhead: `runtime.relay.execute(engine, key)` vs Prefect's bare flow.

The stage is the panel stage (`flows.panel_selection.panel_flow`: read the run's params and case id,
then one task that writes a notification per expert). Ours: a ProcessRun row (the outbox) is queued with
`models.outbox.enqueue`, and `execute(engine, key)` claims it, runs the Prefect flow (with its retry
settings) and marks it completed. Baseline: a bare `@flow async def` with one bare `@task` doing the same
DB work (same reads, same notification rows), run on the same kept event loop. Both run embedded
(Prefect's API started in this process first, as `tiaojie serve` does, ~10–20 s, not timed), on the
same SQLite database, interleaved. A third, informational figure runs the same work with no Prefect at
all. Target: ours ≤ 1.3× the bare flow.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import Result, header, median, ms, pct

TARGET = 1.3


def run(*, quick: bool = False, runs: int | None = None, profile: bool = False, workdir: Path) -> Result:
    runs = runs or (8 if quick else 40)
    header("orchestration: runtime.relay.execute vs Prefect's bare async flow of the same shape")
    res = Result("orchestration", "Per-stage orchestration overhead")

    from prefect import flow, task
    from sqlmodel import Session

    import runtime.relay as dispatch
    from flows import intake, tasks
    from flows.panel_selection import panel_flow  # noqa: F401  (registered by name "panel")
    from models import outbox
    from models.case import Case
    from models.db import make_engine, session_scope, use_engine, utcnow
    from models.migrate import upgrade
    from models.schemas import CaseCreate
    from models.user import User
    from runtime.prefect_env import serve_embedded_api
    from tests.factories import add_expert, add_user, neighbor_case

    url = f"sqlite:///{workdir / 'orch.db'}"
    upgrade(url)
    engine = make_engine(url)
    use_engine(engine)
    staff_id = add_user(engine, "bench_clerk", "staff")
    experts = [
        add_expert(engine, name=f"专家{i}", kind="mediator", towns=["塘下镇"], max_active_cases=10_000)
        for i in range(3)
    ]
    with session_scope(engine, write=True) as session:
        case = intake.register_case(
            session=session,
            data=CaseCreate(**neighbor_case()),
            actor=session.get(User, staff_id),
            now=utcnow(),
        )
        session.flush()
        case_id = case.id

    def queue(prefix: str, count: int) -> list[str]:
        keys = [f"bench:{prefix}:{i}" for i in range(count)]
        with session_scope(engine, write=True) as session:
            for key in keys:
                outbox.enqueue(
                    session, flow="panel", key=key, case_id=case_id, params={"expert_ids": experts}
                )
        return keys

    @task
    def bare_notify(key: str, case_id: int, expert_ids: list[int]) -> int:
        with tasks.write_session() as session:
            case = session.get(Case, case_id)
            return sum(
                tasks.notify(
                    session,
                    key=f"{key}:expert:{e}",
                    expert_id=e,
                    case_id=case_id,
                    text=f"您已被列入 {case.case_no} 调解专班",
                )
                for e in expert_ids
            )

    @flow(name="bench-bare-panel")
    async def bare_panel(key: str) -> None:
        params = tasks.params_of(key)
        bare_notify(key, tasks.case_id_of(key), params.get("expert_ids", []))

    def plain(key: str) -> None:  # the same work, no Prefect
        params = tasks.params_of(key)
        bare_notify.fn(key, tasks.case_id_of(key), params.get("expert_ids", []))

    # Split our time into the flow run itself and the outbox bookkeeping around it.
    inner: list[float] = []
    real_run = dispatch._run_coroutine

    def timed_run(coro):
        t0 = time.perf_counter()
        try:
            return real_run(coro)
        finally:
            inner.append(time.perf_counter() - t0)

    dispatch._run_coroutine = timed_run
    warm = 3
    ours_keys = queue("ours", runs + warm)
    bare_keys = queue("bare", runs + warm)
    plain_keys = queue("plain", runs + warm)

    t0 = time.perf_counter()
    serve_embedded_api()
    res.fig("Prefect's API started in this process", f"{time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    assert dispatch.execute(engine, ours_keys[0]), "our first run failed"
    res.fig("first run", f"{time.perf_counter() - t0:.1f} s")
    for i in range(1, warm):
        dispatch.execute(engine, ours_keys[i])
    for i in range(warm):
        real_run(bare_panel(key=bare_keys[i]))
        plain(plain_keys[i])
    inner.clear()

    ours_t: list[float] = []
    bare_t: list[float] = []
    plain_t: list[float] = []
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    for i in range(warm, warm + runs):
        t0 = time.perf_counter()
        if prof and i == warm + runs - 1:
            prof.enable()
        ok = dispatch.execute(engine, ours_keys[i])
        if prof and i == warm + runs - 1:
            prof.disable()
        ours_t.append(time.perf_counter() - t0)
        assert ok, f"our run {ours_keys[i]} failed"
        t0 = time.perf_counter()
        real_run(bare_panel(key=bare_keys[i]))
        bare_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        plain(plain_keys[i])
        plain_t.append(time.perf_counter() - t0)
    dispatch._run_coroutine = real_run

    with Session(engine) as session:
        from sqlmodel import func, select

        from models.notification import Notification

        notes = session.exec(select(func.count()).select_from(Notification)).one()
    expected = 3 * 3 * (runs + warm)
    if notes != expected:
        res.note(f"notifications written {notes}, expected {expected}: the runs did not all do the work")
    engine.dispose()

    om, bm, pm = median(ours_t), median(bare_t), median(plain_t)
    res.fig(f"ours: execute(engine, key), {runs} runs", f"median {ms(om)}  p95 {ms(pct(ours_t, 95))}")
    res.fig("  of which the Prefect flow run inside execute", f"median {ms(median(inner))}")
    res.fig("  of which outbox claim + mark completed", f"median {ms(om - median(inner))}")
    res.fig("bare Prefect async flow, same tasks and DB work", f"median {ms(bm)}  p95 {ms(pct(bare_t, 95))}")
    res.fig("(info) same work without Prefect", f"median {ms(pm)}")
    res.fig("overhead per stage: ours - bare", ms(om - bm))
    res.check(
        "orchestration per stage",
        measured=ms(om),
        baseline=ms(bm),
        ratio=om / bm,
        target=f"<= {TARGET}x",
        passed=om / bm <= TARGET,
    )
    if prof:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
        print(buf.getvalue())
    return res


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, help="timed flow runs each (orchestration; default 40, quick 8)")
