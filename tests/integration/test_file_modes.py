"""What the data dir holds (full ID numbers, the signing key) is for the service's own user only: the
modes are set by the code, whatever the umask. Tests run as root, who can read anything, so they check
the mode bits, not access.

Also here: the warning `tiaojie serve` gives when others can reach it but the printed QR codes and
verify links still point to the machine itself."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api.cli import public_url_warning
from documents.issue import issue_document
from documents.spreadsheets import export_ledger
from documents.storage import archive
from models.db import make_engine, session_scope
from models.settings import Settings, listen_base_url
from tests.factories import add_user, neighbor_case, register
from tests.support.processes import child_env

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("tiaojie")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "api.cli"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    """The usual umask (022) would make new files 0644 and folders 0755: the code must not rely on it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_data_dir_is_created_0700_and_an_existing_one_tightened(tmp_path: Path) -> None:
    fresh = Settings(data_dir=tmp_path / "fresh" / "var").ensure_data_dir()
    assert _mode(fresh) == 0o700

    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    os.chmod(old, 0o755)
    Settings(data_dir=old).ensure_data_dir()
    assert _mode(old) == 0o700


def test_sqlite_database_and_its_wal_files_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "tiaojie.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:  # WAL mode: -wal and -shm exist while a connection is open
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            for name in ("tiaojie.db", "tiaojie.db-wal", "tiaojie.db-shm"):
                assert _mode(tmp_path / name) == 0o600, name
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch()
    os.chmod(db, 0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert _mode(db) == 0o600


def test_secret_key_is_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", secret_key=None)
    key = settings.effective_secret_key
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text() == key and len(key) >= 32
    assert _mode(key_file) == 0o600


def test_archived_pdf_is_0400_in_private_folders(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    _sha256, path = archive(b"%PDF-1.7\n% a test document\n%%EOF\n", data_dir)
    assert _mode(path) == 0o400
    folder = path.parent
    while folder != tmp_path:
        assert _mode(folder) == 0o700, folder
        folder = folder.parent


def test_issued_document_and_ledger_export_modes(engine: Engine, tmp_path: Path) -> None:
    """The real paths: a document issued for a case (PDF 0400) and a ledger export (XLSX 0600)."""
    data_dir = tmp_path / "var"
    Settings(data_dir=data_dir).ensure_data_dir()
    clerk = add_user(engine, "clerk", "staff")
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    case_id = register(engine, neighbor_case(), actor_id=clerk, now=now)
    with session_scope(engine, write=True) as session:
        doc = issue_document(
            session,
            case_id=case_id,
            kind="application",
            subject_key=f"application:{case_id}",
            data_dir=data_dir,
            base_url="https://tiaojie.example",
        )
    pdf = data_dir / doc.path
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert _mode(pdf) == 0o400

    export = data_dir / "jobs" / "1-ledger.xlsx"
    assert export_ledger(engine, export, now=now) == 1
    assert _mode(export) == 0o600


# --- the public base URL warning ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "url", "warns"),
    [
        ("0.0.0.0", "http://127.0.0.1:8000", True),
        ("192.168.1.20", "http://localhost:8000", True),
        ("::", "http://[::1]:8000", True),
        ("0.0.0.0", "https://tiaojie.ruian.example", False),
        ("0.0.0.0", "http://192.168.1.20:8000", False),
        ("127.0.0.1", "http://127.0.0.1:8000", False),
        ("localhost", "http://127.0.0.1:8000", False),
        ("::1", "http://localhost:8000", False),
    ],
)
def test_public_url_warning(host: str, url: str, warns: bool) -> None:
    warning = public_url_warning(host, url)
    assert (warning is not None) == warns
    if warning:
        assert "TIAOJIE_PUBLIC_BASE_URL" in warning and url in warning and "\n" not in warning


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8017"),
        ("0.0.0.0", "http://127.0.0.1:8017"),
        ("192.168.1.20", "http://192.168.1.20:8017"),
        ("localhost", "http://localhost:8017"),
        ("::", "http://[::1]:8017"),
        ("::1", "http://[::1]:8017"),
    ],
)
def test_listen_base_url_names_the_port_serve_was_started_on(host: str, url: str) -> None:
    assert listen_base_url(host, 8017) == url


def test_serve_warns_once_at_start_about_a_loopback_public_url(tmp_path: Path) -> None:
    """`tiaojie serve --host 0.0.0.0` on a port already taken: it starts, then stops at the bind.
    Server mode (PREFECT_API_URL set, nothing listening there) starts no embedded Prefect server, so
    each start takes seconds."""
    env = child_env(
        tmp_path, "serve-test", PREFECT_API_URL="http://127.0.0.1:9/api", PYTHONIOENCODING="utf-8"
    )
    subprocess.run([*COMMAND, "init"], check=True, capture_output=True, cwd=ROOT, env=env, timeout=120)

    def serve(**extra: str) -> str:
        with socket.socket() as busy:
            busy.bind(("0.0.0.0", 0))
            busy.listen()
            port = busy.getsockname()[1]
            result = subprocess.run(
                [*COMMAND, "serve", "--host", "0.0.0.0", "--port", str(port)],
                check=False,
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**env, **extra},
                timeout=120,
            )
        assert "address already in use" in result.stderr  # it did get as far as listening
        return result.stderr, port

    stderr, port = serve()
    lines = [line for line in stderr.splitlines() if "TIAOJIE_PUBLIC_BASE_URL" in line]
    assert len(lines) == 1, stderr
    # Unset, the documents print the port serve was started on (on a wildcard host, the loopback address).
    assert lines[0].startswith("tiaojie: 警告") and f"http://127.0.0.1:{port}，" in lines[0]
    # Printed before the server starts, so an operator sees it first.
    assert stderr.splitlines()[0] == lines[0]

    stderr, _port = serve(TIAOJIE_PUBLIC_BASE_URL="https://tiaojie.ruian.example")
    assert "TIAOJIE_PUBLIC_BASE_URL" not in stderr
