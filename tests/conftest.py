"""Test databases: SQLite always, PostgreSQL too when TIAOJIE_TEST_POSTGRES_URL is set.

Each test gets an empty, migrated database: SQLite copies a migrated template file; PostgreSQL
migrates once per run into its own database and truncates between tests (TRUNCATE does not fire the
audit log's row triggers, which refuse UPDATE and DELETE)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="tiaojie-tests-"))
os.environ.setdefault("TIAOJIE_DATA_DIR", str(_TMP / "data"))
os.environ.setdefault("TIAOJIE_SECRET_KEY", "test-secret-key-" + uuid.uuid4().hex)
os.environ.setdefault("PREFECT_HOME", str(_TMP / "prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TIAOJIE_TASK_RETRY_DELAYS", "0,0")
# Cheap argon2 parameters: the suite creates hundreds of users (models/passwords.py).
os.environ.setdefault("TIAOJIE_PASSWORD_HASH_COST", "fast")
os.environ.pop("PREFECT_API_URL", None)

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

import models  # noqa: E402,F401
from models.db import make_engine, use_engine  # noqa: E402
from models.migrate import upgrade  # noqa: E402

POSTGRES_URL = os.environ.get("TIAOJIE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    path = _TMP / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    assert POSTGRES_URL
    name = f"tiaojie_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        db = tmp_path / "tiaojie.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        eng = make_engine(f"sqlite:///{db}")
    else:
        eng = make_engine(request.getfixturevalue("postgres_url"))
        _truncate_all(eng)
    use_engine(eng)
    yield eng
    use_engine(None)
    eng.dispose()


pytest_plugins = ["tests.api_clients"]
