"""Who is bound (issue 18 point 2, CONTRACT v1.2): terms name parties of the case, and signing refuses an
agreement naming a party that was not validly present at a held session — in person, through an agent
with 特别授权, an organisation through its 法定代表人, or a group member through the representative the
group elected. A wage case shaped like the 17-worker one, driven through the JSON API and the pages, on
SQLite and PostgreSQL.

The shape, by hand: 工人00 (elected representative) comes in person; 工人01 through 王代理 (特别授权);
工人02 through 李代理 (一般授权: refused); 工人03 and 工人04 are represented by 工人00; 工人05 neither
comes nor is represented (refused); the company comes through its 法定代表人 张建设 (总经理). So the
refusal names exactly 工人02 and 工人05."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from models.agreement import Agreement, AgreementTerm
from models.audit import AuditEvent
from models.case import Case
from models.db import utcnow
from models.party import Party
from runtime.relay import drain
from tests.factories import org_code, person_id
from tests.pages.conftest import csrf_of, login
from tests.support.clock import CHINA
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres

COMPANY = "瑞安市某建设有限公司"
WORKERS = [f"工人{i:02d}" for i in range(6)]
AGENT_ID = person_id(301)
AGENT_PHONE = "13905770301"
# The last character changed: the checksum no longer holds.
BAD_ID = AGENT_ID[:-1] + ("0" if AGENT_ID[-1] != "0" else "1")
REFUSAL = "工人02、工人05未到场，也未委托有特别授权的代理人或推举代表"


def _iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _worker(i: int, **extra: object) -> dict:
    return {
        "role": "applicant",
        "kind": "person",
        "name": WORKERS[i],
        "id_number": person_id(100 + i),
        "phone": f"1380577{i:04d}",
        **extra,
    }


def _body() -> dict:
    return {
        "channel": "walk_in",
        "category": "labor",
        "town": "玉海街道",
        "summary": "6名工人反映公司拖欠工资。",
        "claims": "请求支付拖欠工资。",
        "headcount": 6,
        "parties": [
            _worker(0, is_representative=True),
            _worker(
                1,
                agent_name="王代理",
                agent_phone=AGENT_PHONE,
                agent_id_number=AGENT_ID,
                agent_special_authority=True,
            ),
            _worker(2, agent_name="李代理"),
            _worker(3, represented_by="工人00"),
            _worker(4, represented_by="工人00"),
            _worker(5),
            {
                "role": "respondent",
                "kind": "organization",
                "name": COMPANY,
                "org_code": org_code(1),
                "legal_representative": "张建设",
                "legal_representative_title": "总经理",
            },
        ],
    }


def _terms(obligor: str = "张建设") -> list[dict]:
    due = (datetime.now(CHINA).date() + timedelta(days=30)).isoformat()
    return [
        {"obligor": obligor, "obligee": w, "obligation": "支付拖欠工资", "amount": "10000", "due_date": due}
        for w in WORKERS
    ]


def _agreed(engine, staff, users, experts) -> int:
    """Registered, panel formed, the session held with the people above present, agreed (the record
    through the API: its answer names who was there in which capacity)."""
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts)
    s.registered(_body()).accepted().panel("mediator_tangxia", "elder_tangxia")
    cid, sid = s.case, s.scheduled(utcnow() + timedelta(days=1)).session
    record = {
        "held_at": _iso(),
        "attendees": ["工人00", "王代理", "李代理", "张建设"],
        "notes": "达成一致。",
        "outcome": "agreed",
        "rights_told": True,
        # The company answers under its own name through its 法定代表人 (point 4).
        "party_answers": [{"party": COMPANY, "answer": "清楚，不申请回避"}],
    }
    r = staff.post(f"/cases/{cid}/sessions/{sid}/record", record)
    assert r.status_code == 200, r.text
    present = {p["name"]: p for p in r.json()["present"]}
    assert present["张建设"]["kind"] == "party_agent" and present["张建设"]["on_behalf_of"] == COMPANY
    assert "法定代表人（总经理）" in present["张建设"]["capacity"]
    assert "一般授权" in present["李代理"]["capacity"] and "特别授权" in present["王代理"]["capacity"]
    return cid


def _why(r) -> str:
    detail = r.json()["detail"]
    return detail if isinstance(detail, str) else " ".join(e["msg"] for e in detail)


def _fields(r) -> list[str]:
    detail = r.json()["detail"]
    return [".".join(str(p) for p in e["loc"][1:]) for e in detail] if isinstance(detail, list) else []


def _state(engine, cid: int) -> tuple[str, object, list[str]]:
    with Session(engine) as session:
        case = session.get(Case, cid)
        agreement = session.exec(select(Agreement).where(Agreement.case_id == cid)).first()
        terms = (
            session.exec(select(AgreementTerm).where(AgreementTerm.agreement_id == agreement.id)).all()
            if agreement
            else []
        )
        return case.stage, agreement.signed_at if agreement else None, sorted(t.obligor for t in terms)


def _party_id(engine, cid: int, name: str) -> int:
    with Session(engine) as session:
        return session.exec(select(Party.id).where(Party.case_id == cid, Party.name == name)).one()


def test_terms_name_parties_and_signing_binds_only_those_present(engine, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid = _agreed(engine, staff, users, experts)
    body = {"terms": _terms(), "performance_method": "银行转账", "performance_place": "瑞安市"}

    # Free text and a misspelt name name nobody: 422 naming the field and the term, listing who may be named.
    for bad, field in (("杨兴国", "terms.0.obligee"), ("工人0O", "terms.0.obligee")):
        terms = _terms()
        terms[0]["obligee"] = bad
        r = staff.post(f"/cases/{cid}/agreement", {**body, "terms": terms})
        assert r.status_code == 422, r.text
        assert _fields(r) == [field]
        assert f"第1项：权利人“{bad}”不是本案当事人" in _why(r)
        assert "、".join([*WORKERS, COMPANY]) in _why(r)
    terms = _terms(obligor="杨兴国等17人")
    r = staff.post(f"/cases/{cid}/agreement", {**body, "terms": terms})
    assert r.status_code == 422 and _fields(r) == ["terms.0.obligor"]
    # Several obligees in one money term: refused on that ground first (one term per person).
    terms = _terms()
    terms[0]["obligee"] = "工人等6人"
    r = staff.post(f"/cases/{cid}/agreement", {**body, "terms": terms})
    assert r.status_code == 422 and _fields(r) == ["terms.0.obligee"] and "按人分列条款" in _why(r)
    assert _state(engine, cid) == ("agreed", None, [])

    # The 法定代表人's name resolves to the company: the company is bound, and named on every term.
    r = staff.post(f"/cases/{cid}/agreement", body)
    assert r.status_code == 201, r.text
    drain(engine)
    assert _state(engine, cid) == ("agreed", None, [COMPANY] * 6)

    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()})
    assert r.status_code == 409, r.text
    why = _why(r)
    assert REFUSAL in why
    assert "李代理到场但无特别授权" in why
    for fine in ("工人00", "工人01", "工人03", "工人04", COMPANY):
        assert f"{fine}、" not in why.split("未到场")[0] and not why.startswith(fine)
    assert _state(engine, cid)[:2] == ("agreed", None)

    # Fixed through PATCH: 工人02's agent gets 特别授权, 工人05 is represented by 工人00.
    version = staff.get(f"/cases/{cid}").json()["version"]
    w2, w5 = _party_id(engine, cid, "工人02"), _party_id(engine, cid, "工人05")
    stale = staff.patch(
        f"/cases/{cid}/parties/{w2}", {"agent_special_authority": True, "version": version - 1}
    )
    assert stale.status_code == 409
    r = staff.patch(f"/cases/{cid}/parties/{w2}", {"agent_special_authority": True, "version": version})
    assert r.status_code == 200, r.text
    assert r.json()["agent_special_authority"] is True and r.json()["agent_name"] == "李代理"
    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()})
    assert r.status_code == 409 and "工人05未到场" in _why(r) and "工人02" not in _why(r)
    r = staff.patch(f"/cases/{cid}/parties/{w5}", {"represented_by": "工人00"})
    assert r.status_code == 200, r.text
    r = staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()})
    assert r.status_code == 200, r.text
    assert _state(engine, cid)[0] == "follow_up"


def test_patch_party_checks_audits_and_masks(engine, as_user, experts) -> None:
    staff = as_user("clerk")
    r = staff.post("/cases", _body())
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    w3, w1 = _party_id(engine, cid, "工人03"), _party_id(engine, cid, "工人01")
    company = _party_id(engine, cid, COMPANY)

    def audit_count() -> int:
        with Session(engine) as session:
            return len(session.exec(select(AuditEvent).where(AuditEvent.case_id == cid)).all())

    before = audit_count()
    refused = [
        (w3, {"represented_by": "工人05"}, "represented_by", "工人05不是本案推选的代表"),
        (
            w3,
            {"represented_by": "杨兴国"},
            "represented_by",
            "“杨兴国”不是本案当事人，请从推选的代表中选择：工人00",
        ),
        (w3, {"agent_name": "某某", "agent_id_number": BAD_ID}, "agent_id_number", "校验位"),
        (w3, {"agent_name": "某某", "agent_phone": "12345"}, "agent_phone", "手机号码"),
        (w3, {"agent_special_authority": True}, "agent_name", "请同时填写委托代理人姓名"),
        (
            w3,
            {"legal_representative_title": "总经理"},
            "legal_representative_title",
            "自然人当事人没有法定代表人",
        ),
        (
            _party_id(engine, cid, "工人00"),
            {"is_representative": False},
            "is_representative",
            "工人03、工人04",
        ),
    ]
    for pid, patch, field, words in refused:
        r = staff.patch(f"/cases/{cid}/parties/{pid}", patch)
        assert r.status_code == 422, (patch, r.text)
        assert _fields(r) == [field], (patch, r.text)
        assert words in _why(r), (patch, _why(r))
    assert audit_count() == before
    # Only staff of the case change parties: a leader is refused, nothing changes.
    director = as_user("director")
    assert director.patch(f"/cases/{cid}/parties/{w3}", {"agent_name": "某某"}).status_code == 403

    r = staff.patch(
        f"/cases/{cid}/parties/{company}",
        {"legal_representative": "李董事", "legal_representative_title": "董事长"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["legal_representative"], r.json()["legal_representative_title"]) == ("李董事", "董事长")
    with Session(engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.case_id == cid, AuditEvent.action == "party.update")
        ).one()
        # The 法定代表人's name is personal data: the log says it changed, not to what.
        assert "李董事" not in str(event.after) and event.after["legal_representative_title"] == "董事长"

    # The agent's numbers: full for staff, masked for a leader, as the party's own.
    parties = {p["name"]: p for p in staff.get(f"/cases/{cid}").json()["parties"]}
    assert (
        parties["工人01"]["agent_id_number"] == AGENT_ID and parties["工人01"]["agent_phone"] == AGENT_PHONE
    )
    assert (
        parties["工人01"]["agent_special_authority"] is True
        and parties["工人03"]["represented_by"] == "工人00"
    )
    masked = {p["name"]: p for p in director.get(f"/cases/{cid}").json()["parties"]}
    assert masked["工人01"]["agent_id_number"] == AGENT_ID[:6] + "********" + AGENT_ID[-4:]
    assert masked["工人01"]["agent_phone"] == "139****0301"
    assert AGENT_ID not in director.get(f"/cases/{cid}").text
    assert w1  # 工人01 exists with its agent as registered


def test_intake_refuses_a_representative_who_is_not_one(as_user, experts) -> None:
    staff = as_user("clerk")
    body = _body()
    body["parties"][3]["represented_by"] = "工人05"
    r = staff.post("/cases", body)
    assert r.status_code == 422 and "工人05不是本案推选的代表" in _why(r)
    assert staff.get("/cases").json()["total"] == 0


def _flash(response) -> str:
    from urllib.parse import unquote

    return unquote((response.cookies.get("tiaojie_flash") or "").strip('"'))


def test_the_pages_pick_parties_warn_and_edit(engine, client, as_user, users, experts) -> None:
    staff = as_user("clerk")
    cid = _agreed(engine, staff, users, experts)
    assert login(client, "clerk").status_code == 303

    # The agreement page picks 义务人 and 权利人 from the parties; a name that is none is refused beside it.
    page = client.get(f"/cases/{cid}/agreement").text
    assert '<select name="terms-0-obligor"' in page and '<select name="terms-0-obligee"' in page
    assert f'<option value="{COMPANY}">{COMPANY}（被申请人）</option>' in page
    form = {"csrf_token": csrf_of(page), "performance_method": "银行转账", "performance_place": "瑞安市"}
    for i, t in enumerate(_terms(obligor=COMPANY)):
        form |= {f"terms-{i}-{k}": str(v) for k, v in t.items()}
    r = client.post(f"/cases/{cid}/agreement", data={**form, "terms-2-obligee": "工人0O"})
    assert r.status_code == 422
    assert "第3项：权利人“工人0O”不是本案当事人" in html.unescape(r.text)
    assert '<option value="工人0O" selected>' in r.text  # what was sent is kept, marked
    assert _state(engine, cid) == ("agreed", None, [])
    r = client.post(f"/cases/{cid}/agreement", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    drain(engine)

    # Warned before signing, on the case page and the agreement page; the page's signing is refused.
    case_page = html.unescape(client.get(f"/cases/{cid}").text)
    assert 'id="binding-warning"' in case_page and REFUSAL in case_page
    assert REFUSAL in html.unescape(client.get(f"/cases/{cid}/agreement").text)
    signed = {
        "csrf_token": csrf_of(case_page),
        "signed_at": datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M"),
    }
    r = client.post(f"/cases/{cid}/agreement/signed", data=signed, follow_redirects=False)
    assert r.status_code == 303 and REFUSAL in _flash(r)
    assert _state(engine, cid)[:2] == ("agreed", None)

    # The party edit page (linked from the case page): an error keeps what was typed; then it saves.
    w2, w5 = _party_id(engine, cid, "工人02"), _party_id(engine, cid, "工人05")
    assert f'href="/cases/{cid}/parties/{w2}/edit"' in case_page
    edit = client.get(f"/cases/{cid}/parties/{w2}/edit").text
    assert 'name="agent_special_authority"' in edit and 'value="李代理"' in edit
    bad = {
        "csrf_token": csrf_of(edit),
        "agent_name": "李代理",
        "agent_phone": "1390577",
        "agent_id_number": AGENT_ID,
        "agent_special_authority": ["0", "1"],
    }
    r = client.post(f"/cases/{cid}/parties/{w2}/edit", data=bad)
    assert r.status_code == 422
    assert 'value="1390577"' in r.text and f'value="{AGENT_ID}"' in r.text
    assert re.search(r'name="agent_special_authority" value="1" checked', r.text)
    assert re.findall(r'<span class="field-error" role="alert">([^<]*)</span>', r.text) == [
        "手机号码应为11位，当前为7位"
    ]
    with Session(engine) as session:
        assert session.get(Party, w2).agent_special_authority is False
    r = client.post(
        f"/cases/{cid}/parties/{w2}/edit", data={**bad, "agent_phone": AGENT_PHONE}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    edit5 = client.get(f"/cases/{cid}/parties/{w5}/edit").text
    assert '<option value="工人00">工人00</option>' in edit5
    r = client.post(
        f"/cases/{cid}/parties/{w5}/edit",
        data={"csrf_token": csrf_of(edit5), "represented_by": "工人00"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    case_page = html.unescape(client.get(f"/cases/{cid}").text)
    assert "binding-warning" not in case_page and "由工人00代表" in case_page
    assert "委托代理人：李代理（特别授权）" in case_page and "法定代表人：张建设（总经理）" in case_page
    r = client.post(f"/cases/{cid}/agreement/signed", data={**signed, "csrf_token": csrf_of(case_page)})
    assert r.status_code == 200 and _state(engine, cid)[0] == "follow_up"


def test_the_intake_page_asks_for_agents_and_representatives(engine, client, as_user, experts) -> None:
    assert login(client, "clerk").status_code == 303
    page = client.get("/cases/new").text
    for label in ("法定代表人", "职务", "委托代理人", "特别授权", "由谁代表"):
        assert label in page
    form = {
        "csrf_token": csrf_of(page),
        "channel": "walk_in",
        "category": "labor",
        "town": "玉海街道",
        "summary": "工人反映公司拖欠工资。",
    }
    for i, p in enumerate(_body()["parties"]):
        for key, value in p.items():
            if value is True:
                form[f"parties-{i}-{key}"] = "1"
            elif value is not False:
                form[f"parties-{i}-{key}"] = str(value)
    # A member represented by someone who is not a representative: the form comes back as typed.
    r = client.post("/cases/new", data={**form, "parties-3-represented_by": "工人05"})
    assert r.status_code == 422
    assert (
        "工人05不是本案推选的代表" in r.text
        and 'value="张建设"' in r.text
        and f'value="{AGENT_ID}"' in r.text
    )
    r = client.post("/cases/new", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    with Session(engine) as session:
        parties = {p.name: p for p in session.exec(select(Party)).all()}
    assert (parties[COMPANY].legal_representative, parties[COMPANY].legal_representative_title) == (
        "张建设",
        "总经理",
    )
    w1 = parties["工人01"]
    assert (w1.agent_name, w1.agent_phone, w1.agent_id_number, w1.agent_special_authority) == (
        "王代理",
        AGENT_PHONE,
        AGENT_ID,
        True,
    )
    assert parties["工人02"].agent_special_authority is False and parties["工人03"].represented_by == "工人00"
