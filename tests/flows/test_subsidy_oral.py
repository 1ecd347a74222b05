"""以案定补's exclusion of an oral agreement the session record does not prove both parties agreed to in
person (人民调解法 第28条: the record is its only proof), through the real actions; SQLite and PostgreSQL.
Dates as tests/flows/test_oral_agreement.py: registered Mon 2 Nov 2026, the session Thu 5 Nov."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session

from flows.closing import close_case
from flows.subsidies import approve_subsidy, exclusions, grade_case
from models.lifecycle import TransitionNotAllowed
from models.mediation_session import MediationSession
from models.user import User
from runtime.relay import drain
from tests.factories import act, add_user, load_case
from tests.flows.test_oral_agreement import SPOT, at, hold, world  # noqa: F401

pytestmark = pytest.mark.postgres


def test_oral_agreement_without_both_parties_present_is_not_paid(engine, world) -> None:  # noqa: F811
    cid = world["case"]
    hold(engine, world, SPOT)
    drain(engine)  # the 卷宗's application, notices and record come from the relay (models/dossier.py)
    act(engine, close_case, cid, actor_id=world["clerk"], now=at(11, 5, 13), kind="oral_performed", note=None)
    assert load_case(engine, cid).outcome == "agreed"
    director = add_user(engine, "director", "leader", level=1, display_name="王主任")
    with Session(engine) as s:
        assert exclusions(s, cid) == []  # both present in the record: payable in principle
    subsidy = act(engine, grade_case, cid, actor_id=world["clerk"], now=at(11, 6), grade=None)
    # One session, no written agreement, 800 元: 简易.
    assert (subsidy.proposed_grade, subsidy.grade, subsidy.amount) == ("simple", "simple", Decimal(200))

    # The record as it would stand had 林小二 not come: the oral agreement proves nothing of his consent.
    from models.db import session_scope

    with session_scope(engine, write=True) as s:
        ms = s.get(MediationSession, world["session"])
        ms.present = [p for p in ms.present if p.get("name") != "林小二"]
        s.add(ms)
    with Session(engine) as s:
        assert exclusions(s, cid) == ["口头协议的调解记录未能证明当事人到场（林小二）"]
    with pytest.raises(TransitionNotAllowed) as refused, session_scope(engine, write=True) as s:
        approve_subsidy(session=s, subsidy_id=subsidy.id, actor=s.get(User, director), now=at(11, 7))
    assert "不予补贴：口头协议" in refused.value.message
