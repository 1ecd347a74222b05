"""The leaders' 督办 list asks the database a fixed number of questions however many cases it shows
(what each case waits for is read for all rows at once, models.next_step.waiting_on_many): at a
province's scale two queries per row made it the slowest leaders' page. And the batched answer is the
one-case answer, stage by stage.

Dates as in tests/flows/test_supervision_loop.py: registered Mon 2 Nov 2026 09:00, three working days
for registration, so the sweep at Fri 6 Nov 01:00 raises one 督办 per case to the center director."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, select

from flows.escalation import run_sweep
from models.case import Case
from models.next_step import waiting_on, waiting_on_many
from tests.factories import neighbor_case, register
from tests.pages.conftest import login
from tests.support.clock import at

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


def _escalate(engine, clerk: int, n: int) -> list[int]:
    ids = [register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 11, 2, 9, k)) for k in range(n)]
    raised = run_sweep(engine, now=at(2026, 11, 6, 1))
    assert sorted(e["case_id"] for e in raised) == sorted(ids)
    return ids


def _statements_for_holding(engine, app) -> tuple[int, str]:
    client = TestClient(app)
    assert login(client, "director").status_code == 303
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get("/holding")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200, page.text
    return len(seen), page.text


def test_the_holding_list_costs_the_same_queries_for_two_or_six_cases(engine, users, app) -> None:
    _escalate(engine, users["clerk"], 2)
    few, html = _statements_for_holding(engine, app)
    assert html.count("作出受理或不予受理决定") == 2
    _escalate(engine, users["clerk"], 4)
    many, html = _statements_for_holding(engine, app)
    assert html.count("作出受理或不予受理决定") == 6
    assert many == few


def test_the_batched_next_step_is_the_single_one(engine, users) -> None:
    ids = _escalate(engine, users["clerk"], 3)
    with Session(engine) as session:
        cases = list(session.exec(select(Case).where(Case.id.in_(ids))))  # type: ignore[union-attr]
        now = at(2026, 11, 6, 12)
        batched = waiting_on_many(session, cases, now)
        assert batched == {c.id: waiting_on(session, c, now) for c in cases}
        assert set(batched.values()) == {("作出受理或不予受理决定", "中心受理窗口")}
        assert waiting_on_many(session, [], now) == {}
