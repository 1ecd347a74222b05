"""One known set of cases, the same counts everywhere leaders read them.

Ten cases in two towns are driven through the real action functions and the real escalation sweep at
hand-picked moments (a timeline below, each deadline counted by hand on China's calendar: no holiday
or 调休 day falls in November 2026). At a fixed moment NOW the counts are read back from each output
on its own: the dashboard JSON, the case list's filters, the leaders' 督办 list, the dashboard and holding
pages, the ledger export, and the 积案报表 PDF. Every expected number is a literal from the data set:

    case  town   stage        last day of stage  level at NOW  overdue at NOW
    A     玉海   registered   Tue 1 Dec          0             no   (open, on time)
    B     塘下   registered   Thu 26 Nov         0             yes  (late since 00:00, swept at 23:30)
    C     玉海   registered   Fri 20 Nov         1             yes
    D     塘下   registered   Mon 16 Nov         2             yes
    E     玉海   registered   Thu 5 Nov          3             yes
    M1    玉海   registered   Tue 1 Dec          1 (intake)    no   (群体性: 17 wage claimants)
    M2    塘下   registered   Tue 1 Dec          1 (intake)    no   (群体性: 6 people on one side)
    F     塘下   failed       Thu 26 Nov         0             —    (not open: never overdue)
    W     玉海   withdrawn    Thu 26 Nov         0             —    (not open)
    K     塘下   closed       —                  1 (resolved)  —    (escalated once, then moved on)

Open: 7 (玉海 4, 塘下 3); overdue: 4 (玉海 2: C E; 塘下 2: B D); 督办中 by level: 1→3 (C M1 M2),
2→1 (D), 3→1 (E); mass open: 2 (one per town).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session

from documents.context import BUILDERS
from documents.render import render_pdf
from documents.spreadsheets import LEDGER_COLUMNS, export_ledger
from flows.escalation import run_sweep
from flows.process import apply_transition
from models.access import case_filter
from models.case import Case
from models.db import session_scope
from models.user import User
from runtime.relay import drain
from tests.factories import neighbor_case, wage_case
from tests.pages.conftest import csrf_of
from tests.support.clock import at
from tests.support.pdf import layout_lines
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

YUHAI, TANGXIA = "玉海街道", "塘下镇"
# Written out rather than imported: the list of stages that count as open is part of what is tested.
OPEN_STAGES = {"registered", "accepted", "panel_formed", "in_mediation", "agreed", "follow_up"}


# The last sweep ran at 23:30 on Thu 26 Nov; B's last day ended at 00:00; the next hourly sweep is due.
LAST_SWEEP = at(2026, 11, 26, 23, 30)
NOW = at(2026, 11, 27, 0, 30)


# --- The data set --------------------------------------------------------------------------------


def _mediate_until(
    case: Scenario, lead: str, *, accept: datetime, panel: datetime, held: datetime, outcome: str
) -> None:
    """Accept, seat a panel (`lead`, an expert key), hold one session with `outcome` (the session flow,
    which would close a failed or withdrawn case, is deliberately not run: the case stays in that stage)."""
    case.accepted(now=accept).panel(lead, now=panel)
    case.scheduled(held, location="调解室", duration_minutes=60, now=panel)
    case.held(held, outcome=outcome, attendees=["陈阿大", "林小二"], notes="各方意见分歧较大。", now=held)


def swept(engine: Engine, now: datetime) -> set[tuple[int, int, int]]:
    return {(e["case_id"], e["from_level"], e["to_level"]) for e in run_sweep(engine, now=now)}


def build(engine: Engine, users: dict[str, int], experts: dict[str, int]) -> dict[str, int]:
    """The timeline. Registration allows 3 working days (the registering day not counted)."""
    clerk = users["clerk"]
    c: dict[str, int] = {}
    cases: dict[str, Scenario] = {}

    def reg(name: str, body: dict, moment: datetime) -> None:
        cases[name] = Scenario(engine, clerk=clerk, experts=experts, start=moment).registered(body)
        c[name] = cases[name].case

    # Mon 2 Nov: E and K registered; last day Thu 5 Nov (Tue 3, Wed 4, Thu 5).
    reg("E", neighbor_case(town=YUHAI), at(2026, 11, 2, 9))
    reg("K", neighbor_case(), at(2026, 11, 2, 9, 30))
    assert swept(engine, at(2026, 11, 6, 9)) == {(c["E"], 0, 1), (c["K"], 0, 1)}
    # K moves on late (accepting it fulfils its 督办), fails and is closed: level 1 stays on the case.
    _mediate_until(
        cases["K"],
        "mediator_tangxia",
        accept=at(2026, 11, 9, 9),
        panel=at(2026, 11, 10, 9),
        held=at(2026, 11, 11, 10),
        outcome="failed",
    )
    with session_scope(engine, write=True) as session:
        apply_transition(
            session, session.get(Case, c["K"]), "close", actor=None, now=at(2026, 11, 12, 9), note="已告知"
        )
    # Wed 11 Nov: D; last day Mon 16 Nov (Thu 12, Fri 13, [weekend], Mon 16).
    reg("D", neighbor_case(), at(2026, 11, 11, 9))
    assert swept(engine, at(2026, 11, 13, 9)) == {(c["E"], 1, 2)}  # a 7-day period after 6 Nov 00:00
    # Mon 16 Nov: F and W; mediation ends Mon 23 Nov; closing allows 3 working days: Thu 26 Nov.
    reg("F", neighbor_case(), at(2026, 11, 16, 9))
    reg("W", neighbor_case(town=YUHAI), at(2026, 11, 16, 9, 30))
    # Tue 17 Nov: C; last day Fri 20 Nov (Wed 18, Thu 19, Fri 20).
    reg("C", neighbor_case(town=YUHAI), at(2026, 11, 17, 9))
    assert swept(engine, at(2026, 11, 17, 9, 5)) == {(c["D"], 0, 1)}
    for name, lead, held in (
        ("F", "mediator_tangxia", at(2026, 11, 23, 10)),
        ("W", "mediator_yuhai", at(2026, 11, 23, 14)),
    ):
        _mediate_until(
            cases[name],
            lead,
            accept=at(2026, 11, 17, 10),
            panel=at(2026, 11, 18, 9),
            held=held,
            outcome={"F": "failed", "W": "withdrawn"}[name],
        )
    assert swept(engine, at(2026, 11, 20, 9)) == {(c["E"], 2, 3)}
    assert swept(engine, at(2026, 11, 21, 9)) == {(c["C"], 0, 1)}
    # Mon 23 Nov: B; last day Thu 26 Nov (Tue 24, Wed 25, Thu 26).
    reg("B", neighbor_case(), at(2026, 11, 23, 9))
    assert swept(engine, at(2026, 11, 24, 9)) == {(c["D"], 1, 2)}
    # Thu 26 Nov: A, M1, M2; last day Tue 1 Dec (Fri 27, [weekend], Mon 30, Tue 1). The mass cases
    # start at level 1 at intake.
    reg("A", neighbor_case(town=YUHAI), at(2026, 11, 26, 9))
    reg("M1", wage_case(), at(2026, 11, 26, 10))
    reg("M2", neighbor_case(headcount=6), at(2026, 11, 26, 11))
    assert swept(engine, LAST_SWEEP) == set()  # E is at the top; B, F and W are due at 00:00
    return c


# --- Reading the outputs ---------------------------------------------------------------------------


def ledger(engine: Engine, tmp_path: Path, user_id: int) -> list[dict]:
    """The ledger export as the user may see it (their scope), as of NOW."""
    with Session(engine, expire_on_commit=False) as session:
        user = session.get(User, user_id)
    out = tmp_path / f"ledger-{user_id}.xlsx"
    export_ledger(engine, out, now=NOW, scope=case_filter(user))
    headings = [h for h, _ in LEDGER_COLUMNS]
    return [
        dict(zip(headings, r, strict=False))
        for r in load_workbook(out).active.iter_rows(min_row=3, values_only=True)
    ]


def backlog_report_lines(engine: Engine, tmp_path: Path) -> list[str]:
    """The 积案报表 as of NOW, rendered to PDF and read back with pdftotext (layout kept: table rows)."""
    with Session(engine) as session:
        context = BUILDERS["backlog_report"](session, None, "backlog:test", NOW)
    return layout_lines(render_pdf("backlog_report", context))


def report_from_page(client: TestClient, tmp_path: Path) -> list[str]:
    """The 积案报表 a leader orders on the dashboard page (a job through the outbox), as downloaded."""
    token = csrf_of(client.get("/dashboard").text)
    started = client.post("/jobs/backlog-report", data={"csrf_token": token}, follow_redirects=False)
    assert started.status_code == 303, started.text
    drain()
    status = client.get(f"{started.headers['location']}/status").json()
    assert status["state"] == "done", status
    return layout_lines(client.get(status["download"]).content)


def _table_rows(html: str, section_id: str) -> list[str]:
    section = html.split(f'id="{section_id}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", section, flags=re.S)


def case_nos_in(html: str, section_id: str, numbers: dict[str, str]) -> set[str]:
    """Which of our cases (by name) have a row in a page section."""
    rows = _table_rows(html, section_id)
    return {name for name, no in numbers.items() if any(f">{no}</a>" in row for row in rows)}


# --- The test --------------------------------------------------------------------------------------


@pytest.mark.printed  # reads the report's figures as laid out on its printed page
def test_the_same_counts_everywhere(engine, users, experts, as_user, browser_for, tmp_path) -> None:
    c = build(engine, users, experts)
    ids = {v: k for k, v in c.items()}
    with Session(engine) as session:
        numbers = {name: session.get(Case, cid).case_no for name, cid in c.items()}
    now = {"now": NOW.isoformat()}

    def names(api, **params: object) -> set[str]:
        response = api.get("/cases", params={**now, "limit": 500, **params})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return {ids[item["id"]] for item in body["items"]}

    def open_names(api, **params: object) -> set[str]:
        response = api.get("/cases", params={**now, "limit": 500, **params})
        return {ids[item["id"]] for item in response.json()["items"] if item["stage"] in OPEN_STAGES}

    def supervised(api) -> dict[int, set[str]]:
        """The 督办 list: distinct cases with an unfulfilled 督办, at the highest level reached."""
        response = api.get("/escalations", params={"open": "true", "limit": 500})
        assert response.status_code == 200, response.text
        level: dict[str, int] = {}
        for e in response.json()["items"]:
            level[ids[e["case_id"]]] = max(level.get(ids[e["case_id"]], 0), e["to_level"])
        return {n: {name for name, lv in level.items() if lv == n} for n in (1, 2, 3)}

    # --- The whole center (the center director) ----------------------------------------------------
    director = as_user("director")
    listed = director.get("/cases", params={**now, "limit": 500}).json()["items"]
    assert {ids[i["id"]]: i["stage"] for i in listed} == {
        **dict.fromkeys(("A", "B", "C", "D", "E", "M1", "M2"), "registered"),
        "F": "failed",
        "W": "withdrawn",
        "K": "closed",
    }
    dash = director.get("/dashboard", params=now).json()
    assert dash["open_total"] == 7
    assert dash["overdue"] == 4
    assert dash["escalated"] == {"1": 3, "2": 1, "3": 1}
    assert dash["mass_open"] == 2
    assert dash["mass_by_town"] == {YUHAI: 1, TANGXIA: 1}
    assert dash["by_town"] == {YUHAI: 4, TANGXIA: 3}
    assert dash["overdue_by_town"] == {YUHAI: 2, TANGXIA: 2}

    assert names(director, overdue="true") == {"B", "C", "D", "E"}
    # Past their closing deadline too, but a failed or withdrawn case is not open, hence never overdue.
    assert names(director, overdue="false") == {"A", "M1", "M2", "F", "W", "K"}
    assert open_names(director) == {"A", "B", "C", "D", "E", "M1", "M2"}
    assert open_names(director, town=YUHAI) == {"A", "C", "E", "M1"}
    assert open_names(director, town=TANGXIA) == {"B", "D", "M2"}
    assert names(director, town=YUHAI, overdue="true") == {"C", "E"}
    assert names(director, town=TANGXIA, overdue="true") == {"B", "D"}
    # The level filter is the case's ladder level, kept after the case moves on (K); among open cases
    # it gives the dashboard's 督办中 figures.
    assert names(director, escalation_level=1) == {"C", "M1", "M2", "K"}
    assert open_names(director, escalation_level=1) == {"C", "M1", "M2"}
    assert open_names(director, escalation_level=2) == {"D"}
    assert open_names(director, escalation_level=3) == {"E"}
    assert supervised(director) == {1: {"C", "M1", "M2"}, 2: {"D"}, 3: {"E"}}

    rows = ledger(engine, tmp_path, users["director"])
    assert len(rows) == 10
    late = {r["案件编号"] for r in rows if r["是否超期"] == "是"}
    assert late == {numbers[n] for n in ("B", "C", "D", "E")}
    assert {
        t: sum(1 for r in rows if r["是否超期"] == "是" and r["镇街"] == t) for t in (YUHAI, TANGXIA)
    } == {
        YUHAI: 2,
        TANGXIA: 2,
    }
    assert sum(1 for r in rows if r["是否群体性"] == "是") == 2

    lines = backlog_report_lines(engine, tmp_path)
    text = " ".join(lines)
    figures = re.search(r"(\d+) (\d+) (\d+) (\d+) (\d+) \S+ 在办案件 超期案件 群体性纠纷", text)
    assert figures, text
    assert figures.groups()[:3] == ("7", "4", "2")
    by_town = {line.split()[0]: line.split()[1:4] for line in lines if line.split()[0] in (YUHAI, TANGXIA)}
    assert by_town == {YUHAI: ["4", "2", "1"], TANGXIA: ["3", "2", "1"]}  # 在办, 超期, 群体性
    # 超期时间最长的案件: the overdue ones only, longest first; whole days past the last day as of 27 Nov.
    oldest = [line.split() for line in lines if re.match(r"\d+ \S+〔2026〕\d+号", line)]
    assert [(row[1], row[-2], row[-1]) for row in oldest] == [
        (numbers["E"], "22", "市领导包案"),  # 27 − 5
        (numbers["D"], "11", "镇街领导督办"),  # 27 − 16
        (numbers["C"], "7", "中心主任督办"),  # 27 − 20
        (numbers["B"], "1", "承办"),  # 27 − 26
    ]
    for name in ("A", "M1", "M2", "F", "W", "K"):
        assert numbers[name] not in text

    # --- A town leader: the same figures, of their town only -------------------------------------
    yuhai = as_user("yuhai")
    for params in ({}, {"town": TANGXIA}):  # asking for another town changes nothing
        dash = yuhai.get("/dashboard", params={**now, **params}).json()
        assert dash["open_total"] == 4
        assert dash["overdue"] == 2
        assert dash["escalated"] == {"1": 2, "2": 0, "3": 1}
        assert dash["mass_open"] == 1 and dash["mass_by_town"] == {YUHAI: 1}
        assert dash["by_town"] == {YUHAI: 4}
    assert names(yuhai, overdue="true") == {"C", "E"}
    assert open_names(yuhai) == {"A", "C", "E", "M1"}
    assert names(yuhai, town=TANGXIA) == set()
    assert open_names(yuhai, escalation_level=1) == {"C", "M1"}
    assert open_names(yuhai, escalation_level=2) == set()
    assert open_names(yuhai, escalation_level=3) == {"E"}
    assert supervised(yuhai) == {1: {"C", "M1"}, 2: set(), 3: {"E"}}
    rows = ledger(engine, tmp_path, users["yuhai"])
    assert {r["案件编号"] for r in rows} == {numbers[n] for n in ("A", "C", "E", "M1", "W")}
    assert {r["案件编号"] for r in rows if r["是否超期"] == "是"} == {numbers["C"], numbers["E"]}

    # --- Pages. They show the real present, not NOW; the 督办 figures and lists do not depend on it.
    for leader, tile, listed in (
        ("director", "督办中（主任 3 / 镇街 1 / 市领导 1）", {"C", "D", "E", "M1", "M2"}),
        ("yuhai", "督办中（主任 2 / 镇街 0 / 市领导 1）", {"C", "E", "M1"}),
    ):
        html = browser_for(leader).get("/dashboard").text
        assert tile in " ".join(re.sub(r"<[^>]+>", " ", html).split())
        assert case_nos_in(html, "escalated", numbers) == listed
    # Holding pages: each leader's own unfulfilled 督办. Every escalated case passed level 1, so the
    # director holds all five; each level-2 督办 went to the case's own town leader.
    for leader, held in (
        ("director", {"C", "D", "E", "M1", "M2"}),
        ("yuhai", {"E"}),
        ("tangxia", {"D"}),
        ("city", {"E"}),
    ):
        html = browser_for(leader).get("/holding").text
        # The open ones (the page also keeps recently ended 督办 in sight, in its own section).
        rows_html = _table_rows(html, "to-act") + _table_rows(html, "waiting")
        assert {n for n, no in numbers.items() if any(f">{no}</a>" in r for r in rows_html)} == held

    # The 积案报表 a town leader orders covers their town only. It is issued as of the real present
    # (the job takes no `now`), so only figures that do not move with the clock are compared: the
    # open cases and the mass ones; the overdue list holds C and E whatever the date after NOW.
    drain(engine)  # the flows left pending above run now (F and W are closed by theirs)
    lines = report_from_page(browser_for("yuhai"), tmp_path)
    text = " ".join(lines)
    figures = re.search(r"(\d+) (\d+) (\d+) (\d+) (\d+) \S+ 在办案件 超期案件 群体性纠纷", text)
    assert figures, text
    assert (figures.group(1), figures.group(3)) == ("4", "1")
    assert TANGXIA not in text
    for name in ("B", "D", "M2", "F", "K"):
        assert numbers[name] not in text
    assert numbers["C"] in text and numbers["E"] in text
