"""Flows run inline: the relay calls each flow's function (TIAOJIE_FLOW_RUNNER=inline, runtime/relay.py),
so a test checks what an action queued and what its flow did without Prefect's engine; a test marked
`prefect`, whose subject is the engine (retries against its API, flow runs recorded, the relay's readiness),
runs flows through Prefect and the API `tiaojie serve` runs in its own process (runtime.prefect_env), started
once per test session by the first such test.

Test databases: SQLite always; PostgreSQL too, when TIAOJIE_TEST_POSTGRES_URL is set, for the tests marked
`postgres` (their SQL, locking or storage differs between the two databases). TIAOJIE_TEST_EVERY_DATABASE=1
runs every database test on both.

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
# As runtime.prefect_env.configure(): never Prefect's own child server, only the API of this process.
os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "false"
os.environ.setdefault("TIAOJIE_TASK_RETRY_DELAYS", "0,0")
# Cheap argon2 parameters: the suite creates hundreds of users (models/passwords.py).
os.environ.setdefault("TIAOJIE_PASSWORD_HASH_COST", "fast")
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("TIAOJIE_FLOW_RUNNER", "inline")
# Documents are rendered by the tests whose subject is the printed page (tests/documents/ and the tests
# marked `printed`, see below); the others get the same words on plain pages (documents/plain.py).
os.environ.setdefault("TIAOJIE_DOCUMENT_RENDERER", "plain")

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

import models  # noqa: E402,F401
from models.db import make_engine, use_engine  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.settings import get_settings  # noqa: E402
from tests.support.rendering import printed_documents  # noqa: E402

POSTGRES_URL = os.environ.get("TIAOJIE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
EVERY_DATABASE = os.environ.get("TIAOJIE_TEST_EVERY_DATABASE") == "1"


def _uses_prefect(item: pytest.Item) -> bool:
    return item.get_closest_marker("prefect") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first: xdist's worksteal hands each worker a contiguous range of the collection and the idle
    ones take from the end of a busy one's queue, so the tests marked `slow` (real processes, the soak, the
    wording world) are dealt round-robin to the start of each worker's range; those marked `prefect`, which
    start Prefect's API (see `prefect_server`), come last."""
    for item in items:
        if item.path.parent.name == "documents" and item.path.parent.parent.name == "tests":
            item.add_marker(pytest.mark.printed)
    slow = [i for i in items if i.get_closest_marker("slow") is not None and not _uses_prefect(i)]
    others = [i for i in items if i.get_closest_marker("slow") is None and not _uses_prefect(i)]
    others += [i for i in items if _uses_prefect(i)]
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    ordered: list[pytest.Item] = []
    remaining = len(items)
    for n in range(workers):
        size = remaining // (workers - n)  # the range xdist's worksteal sends worker n first
        remaining -= size
        share = slow[n::workers]
        ordered += share + others[: max(0, size - len(share))]
        del others[: max(0, size - len(share))]
    ordered += others
    assert len(ordered) == len(items)
    items[:] = ordered


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The `engine` fixture runs on SQLite; a test marked `postgres` runs on PostgreSQL as well: chosen per
    test for what differs between the databases, so the rest of the suite does not run twice."""
    if "engine" not in metafunc.fixturenames:
        return
    both = EVERY_DATABASE or metafunc.definition.get_closest_marker("postgres") is not None
    metafunc.parametrize("engine", BACKENDS if both else BACKENDS[:1], indirect=True)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """Prefect's API in this process, as `tiaojie serve` runs it (≈ 11 s, far more on a busy machine): started
    by the first test marked `prefect` (they run last), stopped at the session's end; its URL. Not started
    in the background beside the other tests: it migrates its database with Alembic, whose `context` and
    `op` are process-wide, and a test migrating ours meanwhile ran its operations on Prefect's connection."""
    from runtime.prefect_env import serve_embedded_api, stop_embedded_server

    url = serve_embedded_api()
    yield url
    stop_embedded_server()


@pytest.fixture(autouse=True)
def _flow_runner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked `prefect` runs its flows through Prefect's engine, once its server answers."""
    if _uses_prefect(request.node):
        monkeypatch.setenv("TIAOJIE_FLOW_RUNNER", "prefect")
        request.getfixturevalue("prefect_server")


@pytest.fixture(autouse=True)
def _document_renderer(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked `printed` (every test in tests/documents/) gets documents laid out by WeasyPrint;
    fixtures of a wider scope that render use tests.support.rendering.printed_documents themselves."""
    marker = request.node.get_closest_marker("printed")
    # printed(database="sqlite"): laid out on that database only, plain on the others.
    database = marker.kwargs.get("database") if marker is not None else None
    params = getattr(request.node, "callspec", None)
    if marker is None or (database and params is not None and params.params.get("engine") != database):
        yield
        return
    with printed_documents():
        yield


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
        # The audit log and its anchor refuse TRUNCATE (statement triggers, migration 0008); the test
        # superuser resets them anyway: in replica mode ordinary triggers do not fire.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # What migration 0025 seeds: the center's own 人民调解委员会, always present.
        conn.execute(
            text(
                "INSERT INTO committees (name, kind, categories, active, is_center, updated_at) "
                "VALUES (:name, 'people', '[]', true, true, now())"
            ),
            {"name": get_settings().committee_name},
        )


@pytest.fixture
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
