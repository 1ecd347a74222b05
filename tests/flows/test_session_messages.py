"""Issue 21 point 4: a session's notice, its new time and its cancellation go out by SMS and e-mail to the
parties who consented to electronic delivery (recorded by staff with PATCH …/parties/{pid}, with the time),
through the outbox (the file sender's lines), once each however often the flow runs; never an ID number."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from flows import sessions
from flows.messages import send_due
from models.db import utcnow
from models.message import Message
from models.party import Party
from models.settings import get_settings
from runtime.relay import drain
from tests.api_clients import Api
from tests.factories import person_id
from tests.pages.conftest import csrf_of, login
from tests.support.clock import at
from tests.support.scenario import Scenario

# The outbox's claims and updates are SQL that differs between the databases.
pytestmark = pytest.mark.postgres


def _messages(engine) -> list[Message]:
    """The session messages (the other notices' portal announcements are tests/api/test_portal.py's)."""
    with Session(engine) as session:
        query = select(Message).where(Message.purpose == "session_notice").order_by(col(Message.id))
        return list(session.exec(query).all())


@pytest.fixture
def own_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """This test's own data dir: the file sender's log holds only its messages (ids restart per database)."""
    monkeypatch.setenv("TIAOJIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TIAOJIE_SMS_BACKEND", raising=False)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_session_notices_reach_consenting_parties_by_sms_and_email(
    engine, client: TestClient, own_data_dir
) -> None:
    case = Scenario(engine).registered().accepted().panel("mediator_tangxia", "elder_tangxia")
    cid = case.case
    with Session(engine) as session:
        parties = {p.name: p for p in session.exec(select(Party).where(Party.case_id == cid)).all()}
    chen = parties["陈阿大"]
    assert not parties["林小二"].consent_electronic

    staff = Api(client, "clerk")
    before = utcnow()
    r = staff.patch(
        f"/cases/{cid}/parties/{chen.id}", {"consent_electronic": True, "email": "chenada@example.test"}
    )
    assert r.status_code == 200, r.text
    with Session(engine) as session:
        stored = session.get(Party, chen.id)
        assert stored is not None and stored.consent_electronic and stored.email == "chenada@example.test"
        assert stored.consent_at is not None and before <= stored.consent_at <= utcnow()
    bad = staff.patch(f"/cases/{cid}/parties/{chen.id}", {"email": "不是邮箱"})
    assert bad.status_code == 422 and "邮箱" in bad.text

    # The same consent on the party's edit page: withdrawn, then given again (each time recorded).
    assert login(client, "clerk").status_code == 303
    edit = client.get(f"/cases/{cid}/parties/{chen.id}/edit")
    assert 'name="consent_electronic" value="1" checked' in edit.text and "同意以短信、电子邮件" in edit.text
    form = {"csrf_token": csrf_of(edit.text), "consent_electronic": "0"}
    assert client.post(f"/cases/{cid}/parties/{chen.id}/edit", data=form).status_code == 200
    with Session(engine) as session:
        assert session.get(Party, chen.id).consent_electronic is False  # type: ignore[union-attr]
    edit = client.get(f"/cases/{cid}/parties/{chen.id}/edit")
    assert "不同意，记录于" in edit.text
    form = {"csrf_token": csrf_of(edit.text), "consent_electronic": ["0", "1"]}
    assert client.post(f"/cases/{cid}/parties/{chen.id}/edit", data=form).status_code == 200
    with Session(engine) as session:
        assert session.get(Party, chen.id).consent_electronic is True  # type: ignore[union-attr]

    when = at(2026, 11, 5, 9, 30)
    sid = case.scheduled(when, location="塘下镇调解室", now=at(2026, 11, 2, 14)).session
    drain(engine)
    queued = _messages(engine)
    # 陈阿大 consented (SMS to his phone, e-mail to his address); 林小二 did not: paper only.
    assert sorted((m.channel, m.to, m.party_id) for m in queued) == [
        ("email", "chenada@example.test", chen.id),
        ("sms", "13905771234", chen.id),
    ]
    notice = queued[0].body
    assert "陈阿大" in notice and "2026年11月05日 09:30" in notice and "塘下镇调解室" in notice
    assert "第1次调解" in notice
    assert all(person_id(201) not in m.body and person_id(202) not in m.body for m in queued)

    case.act(
        sessions.reschedule_session,
        now=at(2026, 11, 3, 9),
        session_id=sid,
        scheduled_at=when + timedelta(days=1),
        location=None,
        reason="申请人请假",
    )
    drain(engine)
    case.act(sessions.cancel_session, now=at(2026, 11, 3, 10), session_id=sid, reason="双方已自行和解")
    drain(engine)
    drain(engine)  # nothing is queued twice by a second pass
    bodies = [m.body for m in _messages(engine) if m.channel == "sms"]
    assert len(bodies) == 3, bodies
    assert "改期至2026年11月06日 09:30" in bodies[1]
    assert "原定2026年11月06日 09:30的第1次调解已取消" in bodies[2]

    # Sent by the outbox after the commits: one line per message in the file sender's log.
    outcome = send_due(engine, now=utcnow() + timedelta(seconds=1))
    # 6 session messages, and the portal's announcements of the acceptance and panel notices (SMS only:
    # one channel per notice) to the one party who consented.
    assert outcome["sent"] == 8 and outcome["failed"] == 0
    lines = [
        json.loads(line)
        for line in (get_settings().data_dir / "messages" / "sms.log")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert [
        line["body"] for line in lines if "调解" in line["body"] and "已送达" not in line["body"]
    ] == bodies
    assert all(m.status == "sent" for m in _messages(engine))
