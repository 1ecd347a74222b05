"""CONTRACT v1.1: user accounts (GET/PATCH /users, password reset), the ledger and the 积案报表 for the
caller's scope, and `GET /cases?mine=true`, on SQLite and PostgreSQL.

Cases are built in two towns with distinct party names, so “nothing of the other town” is checked by
looking for the other town's names and case numbers in the XLSX (openpyxl) and the PDF (pdftotext)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows import panel_selection
from flows.towns import replace_towns
from flows.users import edit_user
from models.audit import AuditEvent
from models.case import Case
from models.db import session_scope, utcnow
from models.document import Document
from models.lifecycle import TransitionNotAllowed
from models.town import TownsIn
from models.user import User
from models.users import UserUpdate
from tests.factories import PASSWORD, neighbor_case, person_id, register
from tests.support.pdf import pdf_text
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

YUHAI, TANGXIA = "玉海街道", "塘下镇"
NAMES = {YUHAI: ["玉海甲一", "玉海甲二"], TANGXIA: ["塘下乙一", "塘下乙二"]}


def _dictionary(engine: Engine) -> None:
    with session_scope(engine, write=True) as session:
        data = TownsIn.model_validate(
            {
                "items": [
                    {"name": YUHAI, "villages": []},
                    {"name": TANGXIA, "villages": []},
                    {"name": "东山街道"},
                ]
            }
        )
        replace_towns(session=session, data=data, actor=None, now=utcnow())


def _messages(response) -> str:
    detail = response.json()["detail"]
    return "；".join(d["msg"] for d in detail) if isinstance(detail, list) else detail


def _token(client, username: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- Users -----------------------------------------------------------------------------------------


def test_admin_lists_and_edits_users_with_chinese_refusals(engine, client, as_user, users) -> None:
    _dictionary(engine)
    admin = as_user("admin")
    for who in ("clerk", "director", "yuhai", "zhoulawyer"):
        assert as_user(who).get("/users").status_code == 403, who
        assert as_user(who).patch(f"/users/{users['clerk']}", {"display_name": "x"}).status_code == 403
        assert as_user(who).post(f"/users/{users['clerk']}/password-reset", {}).status_code == 403

    listing = admin.get("/users").json()
    assert listing["total"] == len(users)
    by_name = {u["username"]: u for u in listing["items"]}
    assert set(by_name) == {
        "clerk",
        "admin",
        "zhoulawyer",
        "otherlawyer",
        "director",
        "yuhai",
        "tangxia",
        "city",
    }
    assert {k: by_name["yuhai"][k] for k in ("id", "display_name", "role", "level", "town", "active")} == {
        "id": users["yuhai"],
        "display_name": "玉海街道分管领导",
        "role": "leader",
        "level": 2,
        "town": YUHAI,
        "active": True,
    }
    assert "password_hash" not in str(listing)

    clerk = users["clerk"]
    r = admin.patch(
        f"/users/{clerk}", {"display_name": "小陈", "role": "leader", "level": 2, "town": TANGXIA}
    )
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("display_name", "role", "level", "town", "active")} == {
        "display_name": "小陈",
        "role": "leader",
        "level": 2,
        "town": TANGXIA,
        "active": True,
    }
    # Refusals, each in Chinese and naming the field; nothing of them is stored.
    r = admin.patch(f"/users/{clerk}", {"level": 4})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "level"
    r = admin.patch(f"/users/{clerk}", {"town": None})
    assert r.status_code == 422 and "镇街领导" in _messages(r)
    r = admin.patch(f"/users/{clerk}", {"town": "塘下"})
    assert r.status_code == 422 and "塘下镇" in _messages(r)  # the closest dictionary name
    r = admin.patch(f"/users/{clerk}", {"level": None})
    assert r.status_code == 422 and "督办层级" in _messages(r)
    r = admin.patch(f"/users/{users['director']}", {"role": "lawyer"})
    assert r.status_code == 422 and "律师" in _messages(r)
    r = admin.patch(f"/users/{clerk}", {"display_name": "  "})
    assert r.status_code == 422 and "姓名" in _messages(r)
    # A signer's name is a person's, not a post (issue 19): refused beside the field, nothing stored.
    r = admin.patch(f"/users/{users['zhoulawyer']}", {"display_name": "周明律师"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "display_name"
    assert "律师" in _messages(r) and "真实姓名" in _messages(r)
    r = admin.patch(f"/users/{clerk}", {"password_hash": "x"})
    assert r.status_code == 422
    assert admin.patch("/users/999999", {"display_name": "无"}).status_code == 404
    assert admin.patch("/users/99999999999", {"display_name": "无"}).status_code == 422

    # Back to staff: the leader's level goes with the role.
    r = admin.patch(f"/users/{clerk}", {"role": "staff", "town": None})
    assert r.status_code == 200 and (r.json()["level"], r.json()["town"]) == (None, None)

    # The admin cannot lock themselves out, nor remove the last active admin.
    me = users["admin"]
    r = admin.patch(f"/users/{me}", {"active": False})
    assert r.status_code == 409 and "自己" in _messages(r)
    r = admin.patch(f"/users/{me}", {"role": "staff"})
    assert r.status_code == 409 and "管理员" in _messages(r)
    with session_scope(engine, write=True) as session:
        someone = session.get(User, users["director"])
        with pytest.raises(TransitionNotAllowed, match="最后一个启用的管理员"):
            edit_user(
                session=session, user_id=me, changes=UserUpdate(active=False), actor=someone, now=utcnow()
            )
    with Session(engine) as session:
        stored = session.get(User, clerk)
        assert (stored.display_name, stored.role, stored.level, stored.town) == ("小陈", "staff", None, None)
        assert session.get(User, me).active

    # Audited with the admin's name and the values before and after.
    with Session(engine) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "user", AuditEvent.entity_id == clerk)
        ).all()
    updates = [e for e in events if e.action == "user.update"]
    assert [e.actor_name for e in updates] == ["admin", "admin"]
    assert updates[0].before["role"] == "staff" and updates[0].after["role"] == "leader"
    assert updates[0].after["town"] == TANGXIA and updates[1].after["role"] == "staff"


def test_a_disabled_user_cannot_log_in_and_their_token_stops_working(engine, client, as_user, users) -> None:
    admin, clerk = as_user("admin"), as_user("clerk")
    assert clerk.get("/cases").status_code == 200
    r = admin.patch(f"/users/{users['clerk']}", {"active": False})
    assert r.status_code == 200 and r.json()["active"] is False

    assert clerk.get("/cases").status_code == 401  # the token already held
    assert _token(client, "clerk").status_code == 401
    page = client.get("/login")
    from tests.pages.conftest import csrf_of

    login = client.post(
        "/login",
        data={"username": "clerk", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert login.status_code == 401 and "用户名或密码不正确" in login.text

    assert admin.patch(f"/users/{users['clerk']}", {"active": True}).status_code == 200
    # Re-enabled: disabling revoked the sessions, so the old token stays dead; a new login works.
    assert clerk.get("/cases").status_code == 401
    assert _token(client, "clerk").status_code == 200
    with Session(engine) as session:
        actions = session.exec(
            select(AuditEvent.action).where(
                AuditEvent.entity == "user", AuditEvent.entity_id == users["clerk"]
            )
        ).all()
    assert actions == ["user.create", "user.disable", "user.enable"]


def test_a_reset_user_must_change_the_password_before_anything_else(engine, client, as_user, users) -> None:
    admin, clerk = as_user("admin"), as_user("clerk")
    assert clerk.get("/cases").status_code == 200
    r = admin.post(f"/users/{users['clerk']}/password-reset", {})
    assert r.status_code == 200, r.text
    temporary = r.json()["temporary_password"]
    assert len(temporary) >= 8 and temporary != PASSWORD
    listed = {u["username"]: u for u in admin.get("/users").json()["items"]}
    assert listed["clerk"]["must_change_password"] is True

    # The token held before the reset: its session was revoked (401), whoever holds it.
    assert clerk.get("/cases").status_code == 401
    assert _token(client, "clerk", PASSWORD).status_code == 401  # the old password is gone
    r = _token(client, "clerk", temporary)
    assert r.status_code == 403 and "POST /api/v1/auth/password" in r.json()["detail"]

    change = {"username": "clerk", "password": temporary, "new_password": "my-own-secret-9"}
    r = client.post("/api/v1/auth/password", json={**change, "password": "wrong-temporary"})
    assert r.status_code == 401 and "当前密码" in r.json()["detail"]
    r = client.post("/api/v1/auth/password", json={**change, "new_password": "short"})
    assert r.status_code == 422 and "至少 8 位" in _messages(r)
    r = client.post("/api/v1/auth/password", json={**change, "new_password": temporary})
    assert r.status_code == 422 and "相同" in _messages(r)
    r = client.post("/api/v1/auth/password", json=change)
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/cases", headers=_bearer(r.json()["access_token"])).status_code == 200
    assert clerk.get("/cases").status_code == 401  # still revoked: only the new token works
    assert _token(client, "clerk", "my-own-secret-9").status_code == 200
    assert _token(client, "clerk", temporary).status_code == 401

    # Audited, never with a password (temporary, new, or hash) in the values.
    with Session(engine) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "user", AuditEvent.entity_id == users["clerk"])
        ).all()
        hashed = session.get(User, users["clerk"]).password_hash
    assert [e.action for e in events] == ["user.create", "user.password_reset", "user.password_change"]
    assert events[1].actor_name == "admin" and events[2].actor_name == "clerk"
    logged = str([(e.before, e.after) for e in events])
    for secret in (temporary, "my-own-secret-9", PASSWORD, hashed):
        assert secret not in logged


# --- The ledger and the 积案报表 in the caller's scope ------------------------------------------------


@pytest.fixture
def towns(engine: Engine, users: dict[str, int]) -> dict[str, dict[str, str]]:
    """Two cases per town registered three weeks ago (overdue, in the report's oldest list):
    town → {case_no: applicant name}."""
    _dictionary(engine)
    out: dict[str, dict[str, str]] = {YUHAI: {}, TANGXIA: {}}
    start = utcnow() - timedelta(days=21)
    for n in range(2):
        for town in (YUHAI, TANGXIA):
            seq = 300 + n + (0 if town == YUHAI else 50)
            parties = [
                {"role": "applicant", "kind": "person", "name": NAMES[town][n], "id_number": person_id(seq)},
                {"role": "respondent", "kind": "person", "name": f"{NAMES[town][n]}之邻"},
            ]
            body = neighbor_case(town=town, village=None, parties=parties)
            cid = register(engine, body, actor_id=users["clerk"], now=start + timedelta(hours=n))
            with Session(engine) as session:
                out[town][session.get(Case, cid).case_no] = NAMES[town][n]
    return out


def _sheet(content: bytes) -> tuple[list[tuple], str]:
    rows = list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))
    return rows, "\n".join(str(v) for row in rows for v in row if v is not None)


def test_a_town_leaders_ledger_holds_only_their_town(engine, as_user, towns, users) -> None:
    r = as_user("yuhai").get("/ledger", params={"town": TANGXIA})  # asking for another town changes nothing
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows, _ = _sheet(r.content)
    assert rows[2:] == []  # their town ∩ 塘下镇 = nothing
    r = as_user("yuhai").get("/ledger")
    rows, text = _sheet(r.content)
    assert sorted(row[0] for row in rows[2:]) == sorted(towns[YUHAI])
    assert all(name in text for name in NAMES[YUHAI])
    for forbidden in [*NAMES[TANGXIA], *towns[TANGXIA], TANGXIA]:
        assert forbidden not in text, forbidden

    # The director holds both towns, and the GET /cases filters narrow the ledger the same way.
    rows, text = _sheet(as_user("director").get("/ledger").content)
    assert sorted(row[0] for row in rows[2:]) == sorted([*towns[YUHAI], *towns[TANGXIA]])
    rows, _ = _sheet(as_user("director").get("/ledger", params={"town": TANGXIA}).content)
    assert sorted(row[0] for row in rows[2:]) == sorted(towns[TANGXIA])
    rows, _ = _sheet(as_user("director").get("/ledger", params={"q": NAMES[TANGXIA][1]}).content)
    assert [row[0] for row in rows[2:]] == [k for k, v in towns[TANGXIA].items() if v == NAMES[TANGXIA][1]]
    rows, _ = _sheet(as_user("director").get("/ledger", params={"stage": "accepted"}).content)
    assert rows[2:] == []
    today = utcnow().date()
    rows, _ = _sheet(
        as_user("director").get("/ledger", params={"from": str(today - timedelta(days=2))}).content
    )
    assert rows[2:] == []  # registered three weeks ago

    # A lawyer: only their own cases (here none); a bad period: Chinese 422.
    rows, _ = _sheet(as_user("zhoulawyer").get("/ledger").content)
    assert rows[2:] == []
    r = as_user("director").get("/ledger", params={"from": "2026-12-01", "to": "2026-11-01"})
    assert r.status_code == 422 and "晚于" in _messages(r)
    assert as_user("director").get("/ledger", params={"from": "2026-13-01"}).status_code == 422

    # Audited with the real user, not "cli".
    with Session(engine) as session:
        exports = session.exec(
            select(AuditEvent).where(AuditEvent.action == "ledger.export").order_by(col(AuditEvent.id))
        ).all()
    assert exports[0].actor_id == users["yuhai"] and exports[0].actor_name == "yuhai"
    assert {e.actor_name for e in exports} == {"yuhai", "director", "zhoulawyer"}


def test_a_town_leaders_backlog_report_covers_only_their_town(
    engine, as_user, towns, users, tmp_path
) -> None:
    now = (utcnow() + timedelta(minutes=1)).isoformat()
    r = as_user("yuhai").get("/reports/backlog", params={"now": now})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    assert "积案" in text and YUHAI in text
    assert all(case_no in text for case_no in towns[YUHAI])
    for forbidden in [*NAMES[TANGXIA], *towns[TANGXIA], TANGXIA]:
        assert forbidden not in text, forbidden

    # The director's (center-wide) report holds both towns: the absences above are the scope's doing.
    text = pdf_text(as_user("director").get("/reports/backlog", params={"now": now}).content)
    assert all(case_no in text for case_no in [*towns[YUHAI], *towns[TANGXIA]])

    # Issued and archived like every document: one row per scope and moment, asking again returns it.
    again = as_user("yuhai").get("/reports/backlog", params={"now": now})
    assert again.content == r.content
    with Session(engine) as session:
        docs = session.exec(select(Document).where(Document.kind == "backlog_report")).all()
    assert len(docs) == 2 and {d.created_by for d in docs} == {users["yuhai"], users["director"]}
    assert all(d.case_id is None and d.sha256 for d in docs)

    for who in ("clerk", "zhoulawyer"):
        r = as_user(who).get("/reports/backlog")
        assert r.status_code == 403 and "无权" in r.json()["detail"], who
    assert as_user("director").get("/reports/backlog", params={"now": "yesterday"}).status_code == 422


# --- GET /cases?mine=true --------------------------------------------------------------------------


def test_mine_means_registered_by_me_or_seated_and_not_recused(engine, as_user, users, experts) -> None:
    now = utcnow() - timedelta(days=2)
    case = Scenario(engine, clerk=users["clerk"], experts=experts, start=now).registered()
    mine = case.case
    other = register(engine, neighbor_case(summary="别人登记的案件"), actor_id=users["admin"], now=now)
    case.accepted().panel("mediator_tangxia", ("lawyer", "legal_advisor"), ("judge", "member"))

    def ids(who: str) -> list[int]:
        r = as_user(who).get("/cases", params={"mine": "true"})
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    assert ids("clerk") == [mine]  # registered it
    assert ids("zhoulawyer") == [mine]  # seated as legal advisor
    assert ids("otherlawyer") == [mine]  # seated as member
    assert ids("admin") == [other]
    assert ids("director") == []

    case.act(
        panel_selection.recuse,
        now=now + timedelta(hours=3),
        expert_id=experts["judge"],
        reason="与申请人系近亲属",
    )
    assert ids("otherlawyer") == []  # recused: no longer theirs
    assert ids("zhoulawyer") == [mine] and ids("clerk") == [mine]
