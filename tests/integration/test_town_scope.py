"""A town leader's scope holds server-side everywhere they read cases: the case list, the ledger export
and the 积案报表 they order from the pages, the dashboard, and the related cases shown inside a case.
With the town dictionary: the admin's page, the intake form's type-ahead, the CLI's refusal of a town
leader without a town, and the migration that maps the towns typed before there was a dictionary.

Cases are built in two towns with distinct party names (玉海街道: 玉海甲一…; 塘下镇: 塘下乙一…), so
“nothing of the other town” is checked by looking for the other town's names and case numbers."""

from __future__ import annotations

import importlib.util
import io
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from openpyxl import Workbook, load_workbook
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows.towns import replace_towns
from models.audit import AuditEvent
from models.case import Case, CaseLink
from models.db import session_scope, table_of, utcnow
from models.document import Document
from models.escalation import Escalation
from models.expert import Expert
from models.notification import Notification
from models.passwords import hash_password
from models.town import Town, TownsIn
from models.user import User
from runtime.relay import drain
from tests.cli.test_cli import COMMAND, ROOT, _env
from tests.factories import PASSWORD, add_expert, neighbor_case, person_id, register
from tests.pages.conftest import csrf_of
from tests.support.pdf import pdf_text

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

YUHAI, TANGXIA = "玉海街道", "塘下镇"
NAMES = {YUHAI: ["玉海甲一", "玉海甲二"], TANGXIA: ["塘下乙一", "塘下乙二"]}
MIGRATION = ROOT / "migrations" / "versions" / "0005_towns.py"


@pytest.fixture(autouse=True)
def towns(engine: Engine) -> None:
    """The town dictionary, before the `users` fixture's town leaders are checked against it."""
    with session_scope(engine, write=True) as session:
        data = TownsIn.model_validate(
            {
                "items": [
                    {"name": YUHAI, "villages": ["滨江社区"]},
                    {"name": TANGXIA, "villages": ["罗凤村"]},
                    {"name": "东山街道", "villages": []},
                ]
            }
        )
        replace_towns(session=session, data=data, actor=None, now=utcnow())


def _parties(town: str, n: int) -> list[dict]:
    seq = 300 + n + (0 if town == YUHAI else 50)
    return [
        {"role": "applicant", "kind": "person", "name": NAMES[town][n], "id_number": person_id(seq)},
        {
            "role": "respondent",
            "kind": "person",
            "name": f"{NAMES[town][n]}之邻",
            "id_number": person_id(seq + 10),
        },
    ]


def _two_towns(engine: Engine, clerk: int) -> dict[str, dict[str, str]]:
    """Two cases per town, registered three weeks ago (so overdue, and in the report's oldest list):
    town → {case_no: applicant name}."""
    out: dict[str, dict[str, str]] = {YUHAI: {}, TANGXIA: {}}
    start = utcnow() - timedelta(days=21)
    for n in range(2):
        for town, village in ((YUHAI, "滨江社区"), (TANGXIA, "罗凤村")):
            body = neighbor_case(town=town, village=village, parties=_parties(town, n))
            cid = register(engine, body, actor_id=clerk, now=start + timedelta(hours=n))
            with Session(engine) as session:
                out[town][session.get(Case, cid).case_no] = NAMES[town][n]
    return out


def _download(client, kind: str, tmp_path: Path) -> bytes:
    token = csrf_of(client.get("/dashboard").text)
    path = "/jobs/ledger-export" if kind == "ledger" else "/jobs/backlog-report"
    started = client.post(path, data={"csrf_token": token}, follow_redirects=False)
    assert started.status_code == 303, started.text
    drain()
    status = client.get(f"{started.headers['location']}/status").json()
    assert status["state"] == "done", status
    response = client.get(status["download"])
    assert response.status_code == 200
    return response.content


def _sheet_text(content: bytes) -> tuple[list[tuple], str]:
    rows = list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))
    return rows, "\n".join(str(v) for row in rows for v in row if v is not None)


def test_a_town_leader_exports_and_reports_only_their_town(engine, users, browser_for, tmp_path) -> None:
    cases = _two_towns(engine, users["clerk"])
    drain()  # the intake flows (application forms) are not what is measured below
    yuhai = browser_for("yuhai")

    rows, sheet = _sheet_text(_download(yuhai, "ledger", tmp_path))
    assert sorted(row[0] for row in rows[2:]) == sorted(cases[YUHAI])
    assert {row[4] for row in rows[2:]} == {YUHAI}
    assert all(name in sheet for name in NAMES[YUHAI])
    for forbidden in [*NAMES[TANGXIA], *cases[TANGXIA], TANGXIA]:
        assert forbidden not in sheet, forbidden

    report = pdf_text(_download(yuhai, "backlog", tmp_path))
    assert "积案" in report and YUHAI in report
    assert all(case_no in report for case_no in cases[YUHAI])  # both overdue: in the oldest list
    for forbidden in [*NAMES[TANGXIA], *cases[TANGXIA], TANGXIA]:
        assert forbidden not in report, forbidden

    # A personal-data export from the pages is traced to the person who asked, not to "cli".
    with Session(engine) as session:
        exports = session.exec(select(AuditEvent).where(AuditEvent.action == "ledger.export")).all()
    assert [(e.actor_id, e.actor_name) for e in exports] == [(users["yuhai"], "yuhai")]

    # The report is this leader's own: no other leader, nor staff, downloads it by its id (the 404 of a
    # document that does not exist); the admin, who keeps the archive, does.
    with Session(engine) as session:
        report = session.exec(select(Document).where(Document.kind == "backlog_report")).one()
    assert report.created_by == users["yuhai"]
    assert yuhai.get(f"/documents/{report.id}/pdf").status_code == 200
    for who in ("tangxia", "director", "clerk"):
        r = browser_for(who).get(f"/documents/{report.id}/pdf")
        assert r.status_code == 404 and "文书不存在" in r.text and YUHAI not in r.text, who
    api_token = yuhai.post("/api/v1/auth/token", data={"username": "tangxia", "password": PASSWORD}).json()
    r = yuhai.get(
        f"/api/v1/documents/{report.id}/pdf", headers={"Authorization": f"Bearer {api_token['access_token']}"}
    )
    assert r.status_code == 404 and r.json() == {"detail": "文书不存在"}
    assert browser_for("admin").get(f"/documents/{report.id}/pdf").status_code == 200

    # The same outputs for the director hold both towns: the absences above are the scope's doing.
    director = browser_for("director")
    _, sheet = _sheet_text(_download(director, "ledger", tmp_path))
    report = pdf_text(_download(director, "backlog", tmp_path))
    for case_no in [*cases[YUHAI], *cases[TANGXIA]]:
        assert case_no in sheet and case_no in report, case_no

    # The dashboard and the case list: the page and the JSON, whatever town is asked for.
    page = yuhai.get("/dashboard").text
    assert all(case_no not in page for case_no in cases[TANGXIA]) and TANGXIA not in page
    listing = yuhai.get("/cases", params={"town": TANGXIA}).text
    assert all(case_no not in listing for case_no in cases[TANGXIA])
    token = yuhai.post("/api/v1/auth/token", data={"username": "yuhai", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    board = yuhai.get("/api/v1/dashboard", params={"town": TANGXIA}, headers=headers).json()
    assert board["open_total"] == 2 and set(board["by_town"]) == {YUHAI}


def test_related_cases_of_another_town_stay_hidden(engine, users, browser_for, as_user) -> None:
    """The same applicant came to 塘下镇 first, then to 玉海街道: the intake flow links the two. The
    玉海街道 leader reads the second case without the first one's number or stage; the director sees it."""
    shared = {"role": "applicant", "kind": "person", "name": "来访人", "id_number": person_id(777)}
    other = {"role": "respondent", "kind": "person", "name": "对方", "id_number": person_id(778)}
    start = utcnow() - timedelta(days=2)
    first = register(
        engine,
        neighbor_case(town=TANGXIA, village="罗凤村", parties=[shared, other]),
        actor_id=users["clerk"],
        now=start,
    )
    second = register(
        engine,
        neighbor_case(town=YUHAI, village="滨江社区", parties=[shared, other]),
        actor_id=users["clerk"],
        now=start + timedelta(hours=1),
    )
    drain()
    with Session(engine) as session:
        assert session.exec(select(CaseLink.related_case_id).where(CaseLink.case_id == second)).all() == [
            first
        ]
        first_no = session.get(Case, first).case_no

    detail = as_user("director").get(f"/cases/{second}").json()
    assert [(r["case_id"], r["case_no"]) for r in detail["related_cases"]] == [(first, first_no)]
    detail = as_user("yuhai").get(f"/cases/{second}").json()
    assert detail["related_cases"] == []
    assert first_no not in str(detail)
    assert first_no not in browser_for("yuhai").get(f"/cases/{second}").text
    assert as_user("yuhai").get(f"/cases/{first}").status_code == 404


def test_a_town_leader_account_without_a_town_sees_no_case(engine, users, as_user) -> None:
    """An account made before a town was required (inserted as an old version would have): it sees
    nothing rather than every town."""
    _two_towns(engine, users["clerk"])
    with session_scope(engine, write=True) as session:
        session.execute(
            insert(table_of(User)),
            {
                "username": "oldtown",
                "display_name": "旧账号",
                "role": "leader",
                "password_hash": hash_password(PASSWORD),
                "level": 2,
                "town": None,
                "active": True,
                "created_at": utcnow(),
                "version": 1,
            },
        )
    old = as_user("oldtown")
    assert old.get("/cases").json()["total"] == 0
    assert old.get("/dashboard").json()["open_total"] == 0
    assert as_user("director").get("/cases").json()["total"] == 4


def test_the_cli_refuses_a_town_leader_without_a_dictionary_town(engine, users, tmp_path) -> None:
    env = {**_env(tmp_path), "TIAOJIE_DATABASE_URL": engine.url.render_as_string(hide_password=False)}

    def add(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*COMMAND, "user", "add", "newleader", "--role", "leader", "--password-stdin", *args],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=False,
        )

    result = add("--level", "2")
    assert result.returncode == 1 and "镇街领导（2级）须指定所属镇街" in result.stderr, result.stderr
    result = add("--level", "2", "--town", "塘下")
    assert result.returncode == 1 and "“塘下镇”" in result.stderr, result.stderr
    result = add("--level", "2", "--town", TANGXIA)
    assert result.returncode == 0, result.stderr
    with Session(engine) as session:
        made = session.exec(select(User).where(User.username == "newleader")).one()
    assert (made.level, made.town) == (2, TANGXIA)


def test_a_town_leader_cannot_be_made_without_a_town(engine, users, browser_for, as_user) -> None:
    """Neither created (admin page) nor edited into one (API and page): a level-2 leader always has a
    town of the dictionary, so their scope is never every town."""
    admin = browser_for("admin")
    token = csrf_of(admin.get("/admin/users").text)
    form = {"csrf_token": token, "username": "newtown", "password": PASSWORD, "role": "leader", "level": "2"}
    r = admin.post("/admin/users", data=form)
    assert r.status_code == 422 and "镇街领导（2级）须指定所属镇街" in r.text
    r = admin.post("/admin/users", data={**form, "town": "塘下"})  # not the dictionary's name
    assert r.status_code == 422 and "塘下镇" in r.text
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == "newtown")).first() is None

    api = as_user("admin")
    r = api.patch(f"/users/{users['yuhai']}", {"town": None})
    assert r.status_code == 422 and "镇街领导（2级）须指定所属镇街" in str(r.json()["detail"])
    r = api.patch(f"/users/{users['director']}", {"level": 2})
    assert r.status_code == 422 and "镇街领导（2级）须指定所属镇街" in str(r.json()["detail"])
    r = api.patch(f"/users/{users['clerk']}", {"role": "leader", "level": 2})
    assert r.status_code == 422
    with Session(engine) as session:
        assert session.get(User, users["yuhai"]).town == YUHAI
        assert session.get(User, users["director"]).level == 1
        assert session.get(User, users["clerk"]).role == "staff"
    r = api.patch(f"/users/{users['director']}", {"level": 2, "town": TANGXIA})
    assert r.status_code == 200 and r.json()["town"] == TANGXIA


def test_admin_page_loads_the_dictionary_and_intake_offers_it(engine, users, browser_for, tmp_path) -> None:
    with session_scope(engine, write=True) as session:
        replace_towns(session=session, data=TownsIn(items=[]), actor=None, now=utcnow())
    admin = browser_for("admin")
    page = admin.get("/admin/towns")
    assert page.status_code == 200 and "字典为空" in page.text and "接受任何镇街名称" in page.text

    # Pasted: one town per line, villages after the colon.
    token = csrf_of(page.text)
    typed = "玉海街道：滨江社区、西山社区\n塘下镇\n# 注释行\n东山街道：\n"
    r = admin.post("/admin/towns", data={"csrf_token": token, "text": typed}, follow_redirects=False)
    assert r.status_code == 303
    page = admin.get("/admin/towns").text
    assert "已载入镇街字典：3 个镇街" in page and "字典为空" not in page
    assert "滨江社区、西山社区" in page

    # A spreadsheet, one row per village, replaces it.
    wb = Workbook()
    wb.active.append(["镇街", "村社"])
    for row in (["飞云街道", "飞云村"], ["飞云街道", "云江社区"], ["塘下镇", "罗凤村"], ["东山街道", None]):
        wb.active.append(row)
    xlsx = io.BytesIO()
    wb.save(xlsx)
    r = admin.post(
        "/admin/towns",
        data={"csrf_token": token},
        files={"file": ("镇街.xlsx", xlsx.getvalue(), "application/octet-stream")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with Session(engine) as session:
        stored = [(t.name, t.villages) for t in session.exec(select(Town).order_by(Town.position)).all()]
    assert stored == [("飞云街道", ["飞云村", "云江社区"]), ("塘下镇", ["罗凤村"]), ("东山街道", [])]

    bad = admin.post("/admin/towns", data={"csrf_token": token, "text": "塘下镇\n：罗凤村"})
    assert bad.status_code == 422 and "缺少镇街名称" in bad.text
    bad = admin.post(
        "/admin/towns",
        data={"csrf_token": token},
        files={"file": ("镇街.csv", "名称,备注\n玉海街道,\n".encode())},
    )
    assert bad.status_code == 422 and "未找到表头" in bad.text
    # Text the request bodies refuse is refused here too, by line (issue 24); the dictionary stays.
    bad = admin.post("/admin/towns", data={"csrf_token": token, "text": "塘下镇\n玉海\ufffe街道：滨江社区\n"})
    assert bad.status_code == 422 and "第2行" in bad.text and "U+FFFE" in bad.text
    bad = admin.post(
        "/admin/towns",
        data={"csrf_token": token},
        files={"file": ("镇街.csv", "镇街,村社\n塘下镇,罗凤村\n塘下镇,陈岙\x01村\n".encode())},
    )
    assert bad.status_code == 422 and "第3行" in bad.text and "U+0001" in bad.text
    with Session(engine) as session:
        assert len(session.exec(select(Town)).all()) == 3
    assert browser_for("clerk").get("/admin/towns").status_code == 403

    # The intake form offers the dictionary as type-ahead lists, each village labelled with its town.
    form = browser_for("clerk").get("/cases/new").text
    assert 'list="town-choices"' in form and 'list="village-choices"' in form
    assert '<option value="飞云街道"></option>' in form
    assert '<option value="云江社区">飞云街道</option>' in form


def test_the_migration_maps_free_text_towns_of_an_existing_install(engine, users) -> None:
    """An install from before the dictionary: its towns were typed freely. Re-running revision 0005 on
    it (the table dropped first) seeds 瑞安's towns and maps what is unambiguous."""
    with session_scope(engine, write=True) as session:
        replace_towns(session=session, data=TownsIn(items=[]), actor=None, now=utcnow())
    now = utcnow()
    ids = {
        typed: register(engine, neighbor_case(town=typed, village=None), actor_id=users["clerk"], now=now)
        for typed in ("玉海", "瑞安市东山街道", "塘下镇", "某某镇", "街道")
    }
    expert = add_expert(engine, name="乙", towns=["莘塍", "飞云街道"])
    with session_scope(engine, write=True) as session:
        session.execute(
            text("UPDATE users SET town = :typed WHERE username = 'yuhai'"), {"typed": "瑞安玉海"}
        )
    spec = importlib.util.spec_from_file_location("migration_0005", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE towns"))
        with Operations.context(MigrationContext.configure(conn)):
            migration.upgrade()
    with Session(engine) as session:
        towns = {typed: session.get(Case, cid).town for typed, cid in ids.items()}
        assert towns == {
            "玉海": "玉海街道",
            "瑞安市东山街道": "东山街道",
            "塘下镇": "塘下镇",
            "某某镇": "某某镇",  # unknown: left, reported in the log
            "街道": "街道",  # every 街道 contains it: ambiguous, left
        }
        assert session.get(Expert, expert).towns == ["莘塍街道", "飞云街道"]
        assert session.exec(select(User.town).where(User.username == "yuhai")).one() == "玉海街道"
        seeded = session.exec(select(Town.name).order_by(Town.position)).all()
    assert len(seeded) == 21 and seeded[:2] == ["安阳街道", "玉海街道"] and "北麂乡" in seeded


def test_another_towns_case_is_never_assigned_to_a_town_leader(engine, users) -> None:
    """A police-risk case of 东山街道 (no leader of its own) goes to level 2 at intake: neither the
    玉海街道 nor the 塘下镇 leader receives its 督办 or notices (they may not see it)."""
    body = neighbor_case(town="东山街道", village=None, summary="邻里争执，一方扬言持刀报复。")
    cid = register(engine, body, actor_id=users["clerk"], now=utcnow() - timedelta(hours=1))
    drain()
    with Session(engine) as session:
        case_no = session.get(Case, cid).case_no
        rows = session.exec(select(Escalation).where(Escalation.case_id == cid)).all()
        assert [(e.to_level, e.assignee_id) for e in rows] == [(2, None)]
        notices = session.exec(select(Notification).where(Notification.case_id == cid)).all()
        assert notices, "the intake flow sends its notices"
        assert not {n.user_id for n in notices} & {users["yuhai"], users["tangxia"]}
    for leader in ("yuhai", "tangxia"):
        with Session(engine) as session:
            texts = session.exec(select(Notification.text).where(Notification.user_id == users[leader])).all()
        assert all(case_no not in t for t in texts), leader


def test_the_list_offers_the_towns_its_reader_may_filter_on(engine, users, browser_for) -> None:
    """The case list's town choices: every town with cases for the center (东山街道 has none), only their
    own for a town leader; and a town whose cases are all gone (deleted by SQL) is no longer offered."""
    _two_towns(engine, users["clerk"])

    def offered(username: str) -> list[str]:
        page = browser_for(username).get("/cases").text
        select_html = page.split('<select name="town">', 1)[1].split("</select>", 1)[0]
        return re.findall(r"<option[^>]*>([^<]+)</option>", select_html)[1:]  # past 全部

    assert offered("clerk") == sorted([YUHAI, TANGXIA])
    assert offered("director") == sorted([YUHAI, TANGXIA])
    assert offered("yuhai") == [YUHAI]
    with session_scope(engine, write=True) as session:
        ids = session.exec(select(Case.id).where(Case.town == TANGXIA)).all()
        for table in ("process_runs", "case_links", "parties", "documents", "notifications"):
            session.execute(text(f"DELETE FROM {table} WHERE case_id IN ({','.join(map(str, ids))})"))
        session.execute(text(f"DELETE FROM cases WHERE id IN ({','.join(map(str, ids))})"))
    assert offered("clerk") == [YUHAI]
