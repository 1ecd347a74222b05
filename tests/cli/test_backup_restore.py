"""`tiaojie backup` / `tiaojie restore` as operators run them: subprocesses on their own data dirs.

The backup is taken while other connections keep registering cases (each with its issued document, in
one transaction) and writing audit rows: the restored database must be one moment of the original —
intact, every case with its document, every document row with its file and fingerprint."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import select

from models.audit import record
from models.db import make_engine, session_scope
from models.settings import Settings
from models.user import User
from tests.conftest import POSTGRES_URL
from tests.factories import neighbor_case

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("tiaojie")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "api.cli"]
WRITER_MARK = "备份期间登记的案件"
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    # No TIAOJIE_SECRET_KEY: the key is generated in the data dir, and the backup must carry it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIAOJIE_", "PREFECT_API_URL"))}
    env.update(
        {
            "TIAOJIE_DATA_DIR": str(data_dir),
            "PREFECT_HOME": str(data_dir / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONIOENCODING": "utf-8",
            "TIAOJIE_PASSWORD_HASH_COST": "fast",
            "TIAOJIE_FLOW_RUNNER": "inline",  # the engine is not the subject (tests/conftest.py)
        }
    )
    if database_url:
        env["TIAOJIE_DATABASE_URL"] = database_url
    return env


Runner = Callable[..., subprocess.CompletedProcess]


def _runner(data_dir: Path, database_url: str | None = None) -> Runner:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*COMMAND, *args],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_env(data_dir, database_url),
            timeout=180,
        )

    return run


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


class Site:
    """One installation: its data dir and database URL, and `tiaojie` run against them."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url or f"sqlite:///{data_dir / 'tiaojie.db'}"
        self.run = _runner(data_dir, database_url)

    def engine(self) -> Engine:
        return make_engine(self.database_url)

    def scalar(self, sql: str) -> int:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).scalar_one()
        finally:
            engine.dispose()

    def rows(self, sql: str) -> list:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql)).all())
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite"] + (["postgresql"] if POSTGRES_URL else []))
def make_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Site]]:
    """Sites on the backend under test; on PostgreSQL each gets a uniquely named database, dropped after."""
    created: list[str] = []
    admin = (
        create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT") if request.param == "postgresql" else None
    )

    def make(name: str) -> Site:
        if admin is None:
            return Site(tmp_path / name, None)
        assert POSTGRES_URL
        db = f"tiaojie_backup_{name}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db}"'))
        created.append(db)
        url = make_url(POSTGRES_URL).set(database=db).render_as_string(hide_password=False)
        return Site(tmp_path / name, url)

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for db in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


class Writers:
    """Keeps writing while the backup runs: cases registered with their 受理登记表 issued in the same
    transaction, and bare audit rows, on connections of their own."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.engine = site.engine()
        self.stop = threading.Event()
        self.cases = 0
        self.audits = 0
        self.errors: list[BaseException] = []
        with session_scope(self.engine) as session:
            self.actor_id = session.exec(select(User.id).where(User.role == "staff")).first()
        assert self.actor_id is not None
        self.threads = [threading.Thread(target=self._guard, args=(f,)) for f in (self._cases, self._audit)]

    def _guard(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.errors.append(exc)

    def _cases(self) -> None:
        from documents.issue import issue_document
        from flows.intake import register_case
        from models.schemas import CaseCreate

        while not self.stop.is_set():
            with session_scope(self.engine, write=True) as session:
                body = neighbor_case(summary=f"{WRITER_MARK}{self.cases + 1}")
                case = register_case(
                    session=session,
                    data=CaseCreate.model_validate(body),
                    actor=session.get(User, self.actor_id),
                    now=NOW,
                )
                issue_document(
                    session,
                    case_id=case.id,
                    kind="application",
                    subject_key=f"application:{case.id}",
                    data_dir=self.site.data_dir,
                    base_url="https://tiaojie.example",
                )
            self.cases += 1
            # A pause between cases: SQLite's busy handler polls, so a writer that takes the lock again
            # at once would starve the audit writer.
            time.sleep(0.05)

    def _audit(self) -> None:
        while not self.stop.is_set():
            with session_scope(self.engine, write=True) as session:
                record(
                    session,
                    actor_id=None,
                    actor_name="test",
                    action="backup.test",
                    entity="test",
                    entity_id=1,
                )
            self.audits += 1
            time.sleep(0.002)

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, cases: int = 0, audits: int = 0, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while (self.cases < cases or self.audits < audits) and not self.errors:
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        self.engine.dispose()
        assert not self.errors, self.errors


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _manifest(archive: Path) -> dict:
    with tarfile.open(archive, "r:gz") as tar:
        handle = tar.extractfile("manifest.json")
        assert handle is not None
        return json.loads(handle.read())


def _check_documents(site: Site) -> list:
    """Every document row's file is in the site's data dir with its fingerprint, read-only for the owner."""
    docs = site.rows("SELECT id, path, sha256 FROM documents ORDER BY id")
    for _id, path, sha256 in docs:
        file = site.data_dir / path
        assert file.is_file(), path
        assert _sha256(file) == sha256
        assert _mode(file) == 0o400
    return docs


@pytest.mark.slow
def test_round_trip_while_writing(make_site: Callable[[str], Site], tmp_path: Path) -> None:
    source = make_site("source")
    init = source.run("init", "--demo")
    assert init.returncode == 0, init.stderr
    # The key generated on first use (tiaojie serve) lives in the data dir; the backup must carry it.
    key = Settings(data_dir=source.data_dir, secret_key=None).effective_secret_key
    archive = tmp_path / "backups" / "tiaojie.tar.gz"
    demo_cases = source.scalar("SELECT COUNT(*) FROM cases")
    demo_documents = source.scalar("SELECT COUNT(*) FROM documents")
    assert demo_cases > 0 and demo_documents > 0

    with Writers(source) as writers:
        writers.wait_for(cases=1)
        cases_before, audits_before = writers.cases, writers.audits
        made = source.run("backup", "--out", str(archive))
        cases_after, audits_after = writers.cases, writers.audits
        writers.wait_for(audits=audits_after + 1)  # and it goes on writing after the backup
    assert made.returncode == 0, made.stderr
    assert made.stderr == ""
    assert "已备份" in made.stdout
    # The backup really ran among the writes (else this test proves nothing about consistency).
    assert audits_after > audits_before, (cases_before, cases_after, audits_before, audits_after)

    manifest = _manifest(archive)
    assert manifest["format"] == "tiaojie-backup"
    assert manifest["database"]["kind"] == source.database_url.split(":")[0].split("+")[0]
    assert _mode(archive) == 0o600
    assert demo_cases + cases_before <= manifest["counts"]["cases"] <= demo_cases + cases_after + 1
    members = {m["name"]: m for m in manifest["members"]}
    assert members["secret_key"]["sha256"] == hashlib.sha256(key.encode()).hexdigest()
    with tarfile.open(archive, "r:gz") as tar:
        for name, entry in members.items():
            handle = tar.extractfile(name)
            assert handle is not None
            assert hashlib.sha256(handle.read()).hexdigest() == entry["sha256"], name

    target = make_site("target")
    restored = target.run("restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "已从" in restored.stdout

    # One moment of the source: counts as the manifest says, every case written by the writer with its
    # document (they were committed together), every document with its file.
    assert target.scalar("SELECT COUNT(*) FROM cases") == manifest["counts"]["cases"]
    assert target.scalar("SELECT COUNT(*) FROM documents") == manifest["counts"]["documents"]
    assert target.scalar("SELECT COUNT(*) FROM audit_events") == manifest["counts"]["audit_events"]
    written = target.scalar(f"SELECT COUNT(*) FROM cases WHERE summary LIKE '{WRITER_MARK}%'")
    assert cases_before <= written <= cases_after + 1
    orphans = target.scalar(
        f"SELECT COUNT(*) FROM cases c WHERE c.summary LIKE '{WRITER_MARK}%' AND NOT EXISTS "
        "(SELECT 1 FROM documents d WHERE d.case_id = c.id AND d.kind = 'application')"
    )
    assert orphans == 0
    docs = _check_documents(target)
    assert len(docs) == manifest["counts"]["documents"] == demo_documents + written
    # A document's bytes, compared with the original's.
    _id, path, _sha = docs[-1]
    assert (target.data_dir / path).read_bytes() == (source.data_dir / path).read_bytes()
    assert (target.data_dir / "secret_key").read_text().strip() == key
    assert _mode(target.data_dir / "secret_key") == 0o600
    assert _mode(target.data_dir) == 0o700
    if target.database_url.startswith("sqlite"):
        db = target.data_dir / "tiaojie.db"
        assert _mode(db) == 0o600
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()

    # A database with content is not overwritten by accident: one line, exit 1, nothing changed.
    refused = target.run("restore", str(archive))
    assert refused.returncode == 1
    line = _one_line(refused.stderr)
    assert "--force" in line and "不是空的" in line
    assert target.scalar("SELECT COUNT(*) FROM cases") == manifest["counts"]["cases"]

    # With --force it is: the source itself (written on since, in WAL mode) goes back to the backup's moment.
    assert source.scalar("SELECT COUNT(*) FROM audit_events") > manifest["counts"]["audit_events"]
    forced = source.run("restore", str(archive), "--force")
    assert forced.returncode == 0, forced.stderr
    assert source.scalar("SELECT COUNT(*) FROM cases") == manifest["counts"]["cases"]
    assert source.scalar("SELECT COUNT(*) FROM audit_events") == manifest["counts"]["audit_events"]
    _check_documents(source)
    if source.database_url.startswith("sqlite"):
        conn = sqlite3.connect(source.data_dir / "tiaojie.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    site = Site(tmp_path_factory.mktemp("demo-site"), None)
    result = site.run("init", "--demo")
    assert result.returncode == 0, result.stderr
    return site


def test_missing_document_file_fails_the_backup_with_one_line(demo_site: Site, tmp_path: Path) -> None:
    path = demo_site.rows("SELECT path FROM documents ORDER BY id")[0][0]
    file = demo_site.data_dir / path
    moved = tmp_path / "aside.pdf"
    file.rename(moved)
    try:
        result = demo_site.run("backup", "--out", str(tmp_path / "b.tar.gz"))
    finally:
        moved.rename(file)
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert "缺失" in line and path in line
    # No half-written backup or temporary snapshot left behind.
    assert list(tmp_path.iterdir()) == []


def test_altered_document_file_fails_the_backup(demo_site: Site, tmp_path: Path) -> None:
    path = demo_site.rows("SELECT path FROM documents ORDER BY id")[0][0]
    file = demo_site.data_dir / path
    original = file.read_bytes()
    file.chmod(0o600)
    file.write_bytes(original.replace(b"%PDF-", b"%PDF-\n%x", 1))
    try:
        result = demo_site.run("backup", "--out", str(tmp_path / "b.tar.gz"))
    finally:
        file.write_bytes(original)
        file.chmod(0o400)
    assert result.returncode == 1
    assert "指纹不符" in _one_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


def _rewrite(archive: Path, out: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    """Copy the archive, letting `change` replace (bytes) or drop (None) each member's content."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for info in src.getmembers():
            handle = src.extractfile(info)
            assert handle is not None
            data = change(info.name, handle.read())
            if data is None:
                continue
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def test_restore_refuses_a_damaged_backup_before_touching_anything(demo_site: Site, tmp_path: Path) -> None:
    archive = tmp_path / "good.tar.gz"
    assert demo_site.run("backup", "--out", str(archive)).returncode == 0
    target = Site(tmp_path / "target", None)

    def tamper_pdf(name: str, data: bytes) -> bytes:
        return data + b"%tampered\n" if name.startswith("documents/") else data

    cases: dict[str, Callable[[str, bytes], bytes | None]] = {
        "sha256": tamper_pdf,
        "缺少": lambda name, data: None if name.startswith("documents/") else data,
        "manifest.json": lambda name, data: None if name == "manifest.json" else data,
    }
    for expected, change in cases.items():
        bad = tmp_path / f"bad-{len(expected)}.tar.gz"
        _rewrite(archive, bad, change)
        result = target.run("restore", str(bad))
        assert result.returncode == 1
        assert expected in _one_line(result.stderr)
        assert (
            not (target.data_dir / "tiaojie.db").exists() or target.scalar("SELECT COUNT(*) FROM cases") == 0
        )
        assert not (target.data_dir / "documents").exists()

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    result = target.run("restore", str(not_a_backup))
    assert result.returncode == 1
    assert "不是 tiaojie 备份文件" in _one_line(result.stderr)
