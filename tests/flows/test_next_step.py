"""What an agreed case waits for (models/next_step.py, shown on the leaders' 督办 list): an oral agreement
(人民调解法 第28条: "当事人认为无需制作调解协议书的，可以采取口头协议方式") is never told to make and sign
a 人民调解协议书; it waits for its performance to be recorded, then for the 结案 decision, unless a party
asked for the written agreement. Cases driven through the real actions; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from flows.agreement import record_oral_performance, request_written_agreement
from models.case import Case
from models.next_step import waiting_on
from tests.factories import act
from tests.flows.test_oral_agreement import SPOT, at
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


@pytest.fixture
def agreed(engine):
    """A neighbour case with 李调解 presiding, its session held on Thu 5 Nov 2026; `hold` records it."""
    s = Scenario(engine).registered().accepted().panel("mediator_tangxia", "elder_tangxia")
    s.scheduled(at(11, 5, 9), location="塘下镇调解室", now=at(11, 2, 12))
    clerk, cid = s.clerk, s.case

    def hold(oral: dict | None) -> None:
        s.agreed(
            at(11, 5, 9),
            attendees=["陈阿大", "林小二", "李调解"],
            notes="双方同意和解。",
            now=at(11, 5, 12),
            oral_agreement=oral,
        )

    return {"clerk": clerk, "case": cid, "hold": hold}


def next_step(engine, case_id: int) -> tuple[str, str]:
    with Session(engine) as session:
        return waiting_on(session, session.get(Case, case_id), at(11, 6))


def test_without_an_oral_agreement_the_written_one_is_made(engine, agreed) -> None:
    agreed["hold"](None)
    assert next_step(engine, agreed["case"]) == ("制作并签署人民调解协议书", "调解主持人 李调解")


def test_an_oral_agreement_performed_on_the_spot_waits_for_the_closing_decision(engine, agreed) -> None:
    agreed["hold"](SPOT)
    what, who = next_step(engine, agreed["case"])
    assert "协议书" not in what
    assert (what, who) == ("作出结案决定（口头协议已履行）", "中心受理窗口")


def test_an_oral_agreement_due_later_waits_for_its_performance_then_the_closing(engine, agreed) -> None:
    cid = agreed["case"]
    # The second term falls due first (15 Nov), so it is the one waited for.
    terms = [
        {**SPOT["terms"][0], "due_date": date(2026, 11, 20)},
        {**SPOT["terms"][1], "due_date": date(2026, 11, 15)},
    ]
    agreed["hold"]({**SPOT, "terms": terms, "performance": "later", "performance_note": None})
    what, who = next_step(engine, cid)
    assert "协议书" not in what
    assert what == "履行口头协议第2项：拆除雨棚东侧挡板，期限 2026-11-15；履行后登记履行情况"
    assert who == "义务人 林小二"

    act(
        engine,
        record_oral_performance,
        cid,
        actor_id=agreed["clerk"],
        now=at(11, 19, 16),
        performed_at=at(11, 19, 15),
        note="回访确认已履行",
    )
    assert next_step(engine, cid) == ("作出结案决定（口头协议已履行）", "中心受理窗口")


def test_a_party_asking_for_it_in_writing_gets_the_written_agreement(engine, agreed) -> None:
    cid = agreed["case"]
    agreed["hold"](SPOT)
    act(
        engine,
        request_written_agreement,
        cid,
        actor_id=agreed["clerk"],
        now=at(11, 6),
        requested_by="陈阿大",
        performance_method=None,
        performance_place=None,
    )
    assert next_step(engine, cid) == (
        "签署人民调解协议书（陈阿大要求将口头协议制作成书面协议）",
        "调解主持人 李调解",
    )
