"""One stage deadline, the same last allowed day everywhere people see it.

A case is registered through the real intake function at a hand-picked moment; the registration stage
allows 3 working days on China's calendar. The last allowed day is worked out by hand below and written
as a literal. The case then walks across that deadline (the escalation sweep issues a 督办单, the flows
are drained), and the same day must appear on the case page, in the JSON list and detail, on the leaders'
dashboard and holding pages, and on the archived 督办单 (read back with pdftotext); the ledger has no
deadline column, so its 是否超期 must flip exactly when the JSON `overdue` does: at 00:00 China time of
the day after the last allowed day, not a second earlier.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from documents.spreadsheets import LEDGER_COLUMNS, export_ledger
from flows.escalation import run_sweep
from models.document import Document
from models.escalation import Escalation
from models.settings import get_settings
from runtime.relay import drain
from tests.factories import load_case, neighbor_case, register
from tests.support.clock import at
from tests.support.pdf import pdf_compact

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


# Registered Wednesday 4 Nov 2026, 09:00 China time. The starting day is not counted (民诉法 第85条);
# 3 working days: Thu 5 Nov (1), Fri 6 Nov (2), [Sat 7, Sun 8 rest days], Mon 9 Nov (3).
# No statutory holiday or 调休 day falls in 4–17 Nov 2026.
REGISTERED_AT = at(2026, 11, 4, 9)
LAST_DAY = date(2026, 11, 9)
LAST_DAY_CN = "2026年11月9日"
LAST_SECOND = at(2026, 11, 9, 23, 59, 59)  # still the last allowed day
FIRST_LATE_MOMENT = at(2026, 11, 10, 0, 0)  # 00:00 of the next day: overdue from here on
FIRST_SWEEP = at(2026, 11, 10, 9, 30)  # the day after the last day: 1 whole day past it
# The ladder climbs one level per 7-day period after the deadline instant (10 Nov 00:00 + 7 days).
SECOND_SWEEP = at(2026, 11, 17, 9, 30)  # 17 Nov − 9 Nov = 8 days past the last day


# --- Reading what people see ------------------------------------------------------------------


class _Tables(HTMLParser):
    """Every <table> of a page as (headers, rows of cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._is_header = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
            self._is_header = tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            headers, rows = self.tables[-1]
            if self._is_header and not headers:
                headers.extend(self._row)
            else:
                rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def column_of_case(html: str, case_no: str, heading: str) -> list[str]:
    """The `heading` cell of every table row whose first cell is `case_no` (one per table listing it)."""
    parser = _Tables()
    parser.feed(html)
    found = []
    for headers, rows in parser.tables:
        if heading not in headers:
            continue
        index = headers.index(heading)
        found += [row[index] for row in rows if row and row[0] == case_no]
    return found


def page_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def ledger_row(engine: Engine, tmp_path: Path, case_no: str, now: datetime) -> dict:
    out = tmp_path / f"ledger-{now:%Y%m%d%H%M%S}.xlsx"
    export_ledger(engine, out, now=now)
    headings = [h for h, _ in LEDGER_COLUMNS]
    rows = [
        dict(zip(headings, r, strict=False))
        for r in load_workbook(out).active.iter_rows(min_row=3, values_only=True)
    ]
    return next(r for r in rows if r["案件编号"] == case_no)


def supervision_orders(engine: Engine, case_id: int) -> list[tuple[Escalation, Document]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Escalation, Document)
            .join(Document, Document.id == Escalation.document_id)
            .where(Escalation.case_id == case_id)
            .order_by(Escalation.id)
        ).all()
        return [(e, d) for e, d in rows]


# --- The test ------------------------------------------------------------------------------------


def test_the_last_allowed_day_is_the_same_everywhere(engine, users, as_user, browser_for, tmp_path) -> None:
    cid = register(engine, neighbor_case(town="玉海街道"), actor_id=users["clerk"], now=REGISTERED_AT)
    case = load_case(engine, cid)
    case_no = case.case_no
    # Stored as the instant the period ends: 24:00 China time of the last allowed day.
    assert case.stage_due_at == at(2026, 11, 10, 0, 0)
    api = as_user("clerk")

    # --- JSON: list and detail carry the last allowed day, not the instant's calendar day.
    def listed(now: datetime, **filters: object) -> list[dict]:
        response = api.get("/cases", params={"now": now.isoformat(), **filters})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    for now in (REGISTERED_AT, LAST_SECOND, FIRST_LATE_MOMENT):
        (item,) = listed(now)
        assert item["stage_due_on"] == LAST_DAY.isoformat()
        detail = api.get(f"/cases/{cid}", params={"now": now.isoformat()}).json()
        assert detail["stage_due_on"] == LAST_DAY.isoformat()

    # --- The boundary: the whole last day is allowed, 00:00 the next day is late.
    assert listed(LAST_SECOND)[0]["overdue"] is False
    assert listed(LAST_SECOND, overdue="true") == []
    assert [c["id"] for c in listed(LAST_SECOND, overdue="false")] == [cid]
    assert listed(FIRST_LATE_MOMENT)[0]["overdue"] is True
    assert [c["id"] for c in listed(FIRST_LATE_MOMENT, overdue="true")] == [cid]
    assert listed(FIRST_LATE_MOMENT, overdue="false") == []
    assert ledger_row(engine, tmp_path, case_no, LAST_SECOND)["是否超期"] == "否"
    assert ledger_row(engine, tmp_path, case_no, FIRST_LATE_MOMENT)["是否超期"] == "是"
    # The sweep draws the same line: nothing on the last day, a 督办 once it has ended.
    assert run_sweep(engine, now=LAST_SECOND) == []

    # --- Walk across the deadline: the sweep on the day after escalates, the flow issues the 督办单.
    assert [(e["case_id"], e["from_level"], e["to_level"]) for e in run_sweep(engine, now=FIRST_SWEEP)] == [
        (cid, 0, 1)
    ]
    drain(engine)
    assert [(e["from_level"], e["to_level"]) for e in run_sweep(engine, now=SECOND_SWEEP)] == [(1, 2)]
    drain(engine)
    (item,) = listed(SECOND_SWEEP)
    assert item["stage_due_on"] == LAST_DAY.isoformat() and item["escalation_level"] == 2

    # --- The 督办单 as archived: the stage's last allowed day, and whole days past it on the day issued.
    orders = supervision_orders(engine, cid)
    assert [(e.to_level, d.kind) for e, d in orders] == [(1, "supervision_order"), (2, "supervision_order")]
    data_dir = Path(get_settings().data_dir)
    first, second = (pdf_compact(data_dir / d.path) for _, d in orders)
    for text in (first, second):
        assert case_no in text
        assert f"阶段期限{LAST_DAY_CN}" in text
    assert "超期天数1日" in first  # issued Tue 10 Nov: 10 − 9 = 1 day past Mon 9 Nov
    assert "超期天数8日" in second  # issued Tue 17 Nov: 17 − 9 = 8 days

    # --- Pages (they show the real present, long after 10 Nov 2026: the case is overdue there too).
    clerk_page = browser_for("clerk").get(f"/cases/{cid}")
    assert clerk_page.status_code == 200
    match = re.search(r"当前阶段期限：\s*(?:已超期\s*)?(\d{4}-\d{2}-\d{2})", page_text(clerk_page.text))
    assert match and match.group(1) == LAST_DAY.isoformat()

    for leader in ("director", "yuhai"):
        dashboard = browser_for(leader).get("/dashboard")
        assert dashboard.status_code == 200
        # Listed twice: among the 督办 cases and among the overdue ones, with the same day in both.
        assert column_of_case(dashboard.text, case_no, "阶段期限") == [f"已超期 {LAST_DAY.isoformat()}"] * 2

    # The level-2 督办 went to the case's own town leader; it is on their holding page with the same day.
    holding = browser_for("yuhai").get("/holding")
    assert column_of_case(holding.text, case_no, "阶段期限") == [f"已超期 {LAST_DAY.isoformat()}"]
