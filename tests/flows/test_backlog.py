"""The leaders' figures on a known set of cases, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from flows.process import apply_transition
from models.backlog import backlog_summary
from models.case import Case
from models.db import session_scope
from models.user import User
from tests.factories import add_user, neighbor_case, register
from tests.support.clock import at

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

NOW = at(2026, 11, 25, 12)  # a Wednesday


def _walk(engine, case_id: int, clerk: int, steps: list[tuple[str, datetime]]) -> None:
    for name, when in steps:
        with session_scope(engine, write=True) as s:
            apply_transition(s, s.get(Case, case_id), name, actor=s.get(User, clerk), now=when)


def test_backlog_figures(engine):
    clerk = add_user(engine, "clerk", "staff")
    register(engine, neighbor_case(), actor_id=clerk, now=NOW - timedelta(days=2))
    register(engine, neighbor_case(town="玉海街道"), actor_id=clerk, now=NOW - timedelta(days=40))
    for days, outcome in ((10, "agree"), (20, "agree"), (30, "fail")):
        start = NOW - timedelta(days=days + 1)
        cid = register(engine, neighbor_case(category="contract"), actor_id=clerk, now=start)
        end = start + timedelta(days=days)
        steps = [("accept", start), ("form_panel", start), ("start_mediation", start), (outcome, end)]
        steps += [("sign", end), ("close", end)] if outcome == "agree" else [("close", end)]
        _walk(engine, cid, clerk, steps)
    with Session(engine) as s:
        summary = backlog_summary(s, now=NOW)
        yuhai = backlog_summary(s, now=NOW, town="玉海街道")
    assert summary["open_total"] == 2 and summary["by_stage"]["registered"] == 2
    assert summary["by_age"]["7日内"] == 1 and summary["by_age"]["31–60日"] == 1
    # The 40-day-old registration is long past its 3-working-day decision limit; the fresh one is not.
    assert summary["overdue"] == 1 and summary["overdue_by_town"] == {"玉海街道": 1}
    assert summary["by_category"] == {"neighbor": 2} and summary["overdue_by_category"] == {"neighbor": 1}
    assert summary["overdue_by_age"]["31–60日"] == 1 and summary["overdue_by_age"]["7日内"] == 0
    assert summary["mass_open"] == 0
    assert summary["closed_last_year"] == 3 and summary["agreed_last_year"] == 2
    assert summary["success_rate"] == round(2 / 3, 4)
    assert summary["median_days_to_close"] == 20
    assert sum(w["in"] for w in summary["trend"]) == 5 and sum(w["out"] for w in summary["trend"]) == 3
    assert summary["trend"][-1]["in"] == 1  # the one registered on Monday of this week
    assert yuhai["open_total"] == 1 and yuhai["by_town"] == {"玉海街道": 1} and yuhai["closed_last_year"] == 0
