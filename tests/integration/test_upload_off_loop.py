"""An uploaded spreadsheet does not hold the server while it is read: a real uvicorn on 127.0.0.1, the
admin's expert import given 1.5 million near-blank rows, /healthz polled meanwhile."""

from __future__ import annotations

import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.main import create_app
from documents.spreadsheets import MAX_IMPORT_ROWS
from models.audit import AuditEvent
from models.db import session_scope
from models.expert import Expert
from tests.factories import add_user
from tests.pages.conftest import csrf_of, login
from tests.servers import app_in_thread

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Target="xl/workbook.xml" '
        f'Type="{_REL}/officeDocument"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        '<sheet name="专家" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Target="worksheets/sheet1.xml" '
        f'Type="{_REL}/worksheet"/></Relationships>'
    ),
}


def near_blank_xlsx(path: Path, rows: int) -> Path:
    """A header, then `rows` rows holding one space each, with no <dimension> (as openpyxl's write-only
    mode writes a sheet): the XML built directly, openpyxl would take a minute to write it."""
    head = (
        f'<worksheet xmlns="{_MAIN}"><sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>姓名</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>类别</t></is></c></row>'
    )
    body = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t> </t></is></c></row>' for n in range(2, rows + 2)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, xml in _PARTS.items():
            archive.writestr(name, xml)
        archive.writestr("xl/worksheets/sheet1.xml", head + body + "</sheetData></worksheet>")
    return path


@pytest.fixture
def served(engine: Engine) -> Iterator[str]:
    """The app under uvicorn in a thread (no scheduler: an import needs none)."""
    with app_in_thread(create_app(engine)) as url:
        yield url


def _import_events(engine: Engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == "expert.import")).all())


def test_huge_upload_is_refused_while_healthz_keeps_answering(
    engine: Engine, served: str, tmp_path: Path
) -> None:
    add_user(engine, "admin", "admin", display_name="管理员")
    huge = near_blank_xlsx(tmp_path / "专家库.xlsx", 1_500_000)
    assert huge.stat().st_size < 20 * 1024 * 1024  # within the upload limit: the import itself must refuse it

    with (
        httpx.Client(base_url=served, timeout=120) as browser,
        httpx.Client(base_url=served, timeout=5) as probe,
    ):
        assert login(browser, "admin").status_code == 303
        csrf = csrf_of(browser.get("/admin/experts").text)
        answer: dict[str, httpx.Response] = {}

        def upload() -> None:
            with huge.open("rb") as fh:
                answer["huge"] = browser.post(
                    "/admin/experts-import", data={"csrf_token": csrf}, files={"file": (huge.name, fh, XLSX)}
                )

        uploading = threading.Thread(target=upload)
        started = time.monotonic()
        uploading.start()
        waits: list[float] = []
        while uploading.is_alive():
            asked = time.monotonic()
            assert probe.get("/healthz").status_code == 200
            waits.append(time.monotonic() - asked)
            time.sleep(0.05)
        uploading.join()
        took = time.monotonic() - started

        assert waits, "the upload finished before /healthz was asked"
        slowest = sorted(round(w, 2) for w in waits)[-5:]
        assert max(waits) < 1.0, (
            f"/healthz waited {slowest} s ({len(waits)} asked) during a {took:.1f} s upload"
        )
        refused = answer["huge"]
        assert refused.status_code == 422, refused.text[:500]
        assert f"文件超过 {MAX_IMPORT_ROWS} 行的上限" in refused.text
        with session_scope(engine) as session:
            assert session.exec(select(Expert)).all() == []
        assert _import_events(engine) == []

        # An ordinary file through the same route is imported, and audited under the admin.
        ok = browser.post(
            "/admin/experts-import",
            data={"csrf_token": csrf},
            files={
                "file": ("bank.csv", "姓名,类别,单位\n王调解,mediator,玉海街道调委会\n".encode(), "text/csv")
            },
        )
        assert ok.status_code == 200 and "成功导入 <b>1</b> 条" in ok.text
        with session_scope(engine) as session:
            assert [e.name for e in session.exec(select(Expert)).all()] == ["王调解"]
        [event] = _import_events(engine)
        assert event.actor_name == "admin" and event.after["accepted"] == 1
