"""The audit log is tamper-evident: every tampering statement of issue 12 is refused, and when an owner
forces it anyway (triggers dropped or disabled), `tiaojie audit verify` names the first broken row.

On PostgreSQL the app's own role cannot TRUNCATE, UPDATE, DELETE or disable the triggers at all."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from models.audit import AuditEvent, record
from models.audit_chain import GENESIS, link_digest, row_digest, verify
from models.db import make_engine, session_scope
from models.migrate import alembic_config, upgrade
from tests.factories import add_user, neighbor_case, register

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

CST = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("tiaojie")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "api.cli"]


def _audited_actions(engine: Engine) -> int:
    """A clerk account, two registered cases and a settings change: returns how many audit rows exist."""
    clerk = add_user(engine, "clerk", "staff")
    register(engine, neighbor_case(), actor_id=clerk, now=datetime(2026, 11, 2, 9, tzinfo=CST))
    register(
        engine, neighbor_case(summary="噪音扰民"), actor_id=clerk, now=datetime(2026, 11, 2, 10, tzinfo=CST)
    )
    with session_scope(engine, write=True) as session:
        record(
            session,
            actor_id=clerk,
            actor_name="clerk",
            action="settings.update",
            entity="setting",
            entity_id=None,
            before={"escalation_period_days": 7},
            after={"escalation_period_days": 5, "note": "（已变更，内容不记录）"},
        )
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _cli(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TIAOJIE_", "PREFECT_API_URL"))}
    base.update(
        {
            "TIAOJIE_DATA_DIR": str(tmp_path / "cli-data"),
            "TIAOJIE_SECRET_KEY": "audit-test-secret",
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONIOENCODING": "utf-8",
            **env,
        }
    )
    return subprocess.run(
        [*COMMAND, *args], check=False, capture_output=True, text=True, cwd=ROOT, env=base, timeout=120
    )


def _ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM audit_events ORDER BY seq")).scalars())


def _refused(engine: Engine, sql: str, params: dict | None = None) -> str:
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(sql), params or {})
    return str(caught.value.orig)


def _sqlite_only(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite statement")


def _postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statement")


# --- intact ---------------------------------------------------------------------------------------


def test_an_untouched_log_verifies_and_the_cli_says_so(engine: Engine, tmp_path: Path) -> None:
    count = _audited_actions(engine)
    assert count >= 4
    report = verify(engine)
    assert report.intact, report.reason
    assert report.checked == count

    # The chain recomputed here from the rows' own content, independently of the triggers.
    prev = GENESIS
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT seq, row_hash, prev_hash, hash FROM audit_events ORDER BY seq")
        ).all()
        head = conn.execute(text("SELECT n, last_hash FROM audit_chain_head")).one()
    assert [r.seq for r in rows] == list(range(1, count + 1))
    for row in rows:
        assert row.prev_hash == prev
        prev = link_digest(prev, row.row_hash)
        assert row.hash == prev
    assert (head.n, head.last_hash) == (count, prev) == (count, report.head_hash)

    result = _cli("audit", "verify", env={"TIAOJIE_DATABASE_URL": _url(engine)}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"审计日志完整：共 {count} 条记录，链尾哈希 {prev}\n"

    # The same command on a log changed behind the database's back: exit 1, one line naming the row.
    victim = _ids(engine)[1]
    _force_update(engine, victim)
    result = _cli("audit", "verify", env={"TIAOJIE_DATABASE_URL": _url(engine)}, tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"tiaojie: 审计日志被篡改：记录 id={victim}（序号 2）的内容已被修改\n"


def test_concurrent_writers_never_fork_the_chain(engine: Engine) -> None:
    """Many transactions at once each read the previous hash only while committing: one straight chain."""
    before = _audited_actions(engine)

    def one(i: int) -> None:
        with session_scope(engine, write=True) as session:
            for step in range(2):
                record(
                    session,
                    actor_id=None,
                    actor_name="system",
                    action=f"test.{step}",
                    entity="case",
                    entity_id=i,
                )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(100)))
    report = verify(engine)
    assert report.intact, report.reason
    assert report.checked == before + 200
    with engine.connect() as conn:
        # A transaction's two rows are linked one after the other (chained at its commit, in order).
        pairs = conn.execute(
            text(
                "SELECT entity_id, min(seq), max(seq) FROM audit_events "
                "WHERE action LIKE 'test.%' GROUP BY entity_id"
            )
        ).all()
    assert len(pairs) == 100 and all(hi == lo + 1 for _, lo, hi in pairs)


# --- the statements of the issue: refused, and caught when forced ---------------------------------


@contextmanager
def _without(engine: Engine, sqlite_trigger: str, pg_trigger: str) -> Iterator[Connection]:
    """A transaction as the owner with a guard trigger out of the way: dropped on SQLite (each test has its
    own file), disabled and enabled again before the commit on PostgreSQL (the database is shared by the
    tests of a run, and ALTER TABLE is transactional there)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER {sqlite_trigger}"))
            yield conn
        else:
            conn.execute(text(f"ALTER TABLE audit_events DISABLE TRIGGER {pg_trigger}"))
            yield conn
            conn.execute(text(f"ALTER TABLE audit_events ENABLE TRIGGER {pg_trigger}"))


def _force_update(engine: Engine, event_id: int, *, rehash: bool = False) -> None:
    """Rewrite a row's `after` as the owner, past the append-only trigger."""
    with _without(engine, "audit_events_no_update", "audit_events_append_only") as conn:
        conn.execute(
            text("""UPDATE audit_events SET after = '{"escalation_period_days": 30}' WHERE id = :id"""),
            {"id": event_id},
        )
        if rehash:  # a careful forger recomputes the row's own hash too
            table = AuditEvent.__table__  # type: ignore[attr-defined]
            typed = conn.execute(select(table).where(table.c.id == event_id)).one()
            conn.execute(
                text("UPDATE audit_events SET row_hash = :h WHERE id = :id"),
                {"h": row_digest(typed._mapping), "id": event_id},
            )


def test_update_is_refused_and_a_forced_update_is_caught(engine: Engine) -> None:
    _audited_actions(engine)
    ids = _refused_then(engine)
    assert "append-only" in _refused(
        engine, "UPDATE audit_events SET actor_name = 'x' WHERE id = :id", {"id": ids[2]}
    )
    _force_update(engine, ids[2])
    report = verify(engine)
    assert not report.intact
    assert (report.broken_id, report.broken_seq) == (ids[2], 3)
    assert report.line() == f"审计日志被篡改：记录 id={ids[2]}（序号 3）的内容已被修改"


def _refused_then(engine: Engine) -> list[int]:
    assert verify(engine).intact
    return _ids(engine)


def test_a_forged_row_with_its_own_hash_recomputed_breaks_the_link(engine: Engine) -> None:
    _audited_actions(engine)
    ids = _refused_then(engine)
    _force_update(engine, ids[1], rehash=True)
    report = verify(engine)
    assert (report.intact, report.broken_id, report.broken_seq) == (False, ids[1], 2)
    assert report.reason == f"记录 id={ids[1]}（序号 2）的链哈希不符"


def test_delete_is_refused_and_a_forced_delete_is_caught(engine: Engine) -> None:
    _audited_actions(engine)
    ids = _refused_then(engine)
    assert "append-only" in _refused(engine, "DELETE FROM audit_events WHERE id = :id", {"id": ids[1]})
    with _without(engine, "audit_events_no_delete", "audit_events_append_only") as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
    report = verify(engine)
    assert (report.intact, report.broken_seq, report.broken_id) == (False, 2, ids[2])
    assert report.reason == f"序号 2 的记录缺失（在记录 id={ids[2]}（序号 3）之前）：有记录被删除或替换"


def test_deleting_the_newest_rows_is_caught_by_the_anchor(engine: Engine) -> None:
    count = _audited_actions(engine)
    _refused_then(engine)
    with _without(engine, "audit_events_no_delete", "audit_events_append_only") as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq >= :s"), {"s": count - 1})
    report = verify(engine)
    assert (report.intact, report.broken_seq) == (False, count - 1)
    assert report.reason.startswith(f"链尾缺失：锚点记有 {count} 条，链中只有 {count - 2} 条")


def test_sqlite_insert_or_replace_is_refused_and_a_forced_one_is_caught(engine: Engine) -> None:
    _sqlite_only(engine)
    count = _audited_actions(engine)
    ids = _refused_then(engine)
    forged = {
        "id": ids[1],
        "at": "2026-11-02 01:00:00.000000",
        "actor_name": "clerk",
        "action": "case.register",
        "entity": "case",
        "after": '{"case_no": "伪造"}',
    }
    values = {**forged, "at": datetime(2026, 11, 2, 1, tzinfo=ZoneInfo("UTC")), "after": {"case_no": "伪造"}}
    forged["row_hash"] = row_digest(values)
    replace = (
        "INSERT OR REPLACE INTO audit_events (id, at, actor_name, action, entity, after, row_hash) "
        "VALUES (:id, :at, :actor_name, :action, :entity, :after, :row_hash)"
    )
    assert "append-only" in _refused(engine, replace, forged)
    assert _ids(engine) == ids
    # Forced: the guard dropped, REPLACE deletes row 2 without firing the DELETE trigger; the forged row
    # is linked at the end of the chain, so the chain has a hole where the old row was.
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_guard_insert"))
        conn.execute(text(replace), forged)
    report = verify(engine)
    assert (report.intact, report.broken_seq, report.broken_id) == (False, 2, ids[2])
    assert "序号 2 的记录缺失" in report.reason
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT seq FROM audit_events WHERE id = :id"), {"id": ids[1]}).scalar_one()
            == count + 1
        )


def test_setting_chain_columns_or_omitting_the_row_hash_is_refused(engine: Engine) -> None:
    _audited_actions(engine)
    head = verify(engine).head_hash
    columns = "at, actor_name, action, entity, row_hash"
    now = "'2026-11-02 01:00:00'" if engine.dialect.name == "sqlite" else "now()"
    assert "set by the database" in _refused(
        engine,
        f"INSERT INTO audit_events ({columns}, seq, hash) VALUES ({now}, 'x', 'y', 'z', :h, 99, :h)",
        {"h": head},
    )
    assert "row_hash" in _refused(
        engine, f"INSERT INTO audit_events ({columns}) VALUES ({now}, 'x', 'y', 'z', NULL)"
    )
    assert verify(engine).intact


def test_postgres_truncate_is_refused_and_a_forced_truncate_is_caught(engine: Engine) -> None:
    _postgres_only(engine)
    count = _audited_actions(engine)
    _refused_then(engine)
    assert "TRUNCATE refused" in _refused(engine, "TRUNCATE audit_events")
    assert "TRUNCATE refused" in _refused(engine, "TRUNCATE audit_chain_head")
    assert "anchor" in _refused(engine, "UPDATE audit_chain_head SET n = 0")
    with _without(engine, "-", "audit_events_no_truncate") as conn:
        conn.execute(text("TRUNCATE audit_events"))
    report = verify(engine)
    assert (report.intact, report.broken_seq) == (False, 1)
    assert report.reason.startswith(f"链尾缺失：锚点记有 {count} 条，链中只有 0 条")


def test_rows_written_with_the_chain_trigger_disabled_are_caught(engine: Engine) -> None:
    _postgres_only(engine)
    _audited_actions(engine)
    with _without(engine, "-", "audit_events_link") as conn:
        record(
            Session(bind=conn),
            actor_id=None,
            actor_name="mallory",
            action="case.register",
            entity="case",
            entity_id=1,
        )
    with engine.connect() as conn:
        sneaked = conn.execute(text("SELECT id FROM audit_events WHERE actor_name = 'mallory'")).scalar_one()
    report = verify(engine)
    assert (report.intact, report.broken_id) == (False, sneaked)
    assert report.reason == f"记录 id={sneaked} 不在链中（写入时绕过了链接触发器）"


# --- PostgreSQL: the app's role -------------------------------------------------------------------


def test_the_app_role_may_only_append_to_the_log(engine: Engine, tmp_path: Path) -> None:
    """`tiaojie init` with the owner's URL and TIAOJIE_APP_DB_ROLE creates and grants the role; connected as
    it, the app records actions, but TRUNCATE, UPDATE, DELETE and disabling a trigger all fail."""
    _postgres_only(engine)
    count = _audited_actions(engine)
    role = f"tiaojie_app_{uuid.uuid4().hex[:10]}"
    owner_url = _url(engine)
    app_url = make_url(owner_url).set(username=role, password=None).render_as_string(hide_password=False)
    app = None
    try:
        result = _cli(
            "init",
            env={
                "TIAOJIE_DATABASE_URL": app_url,
                "TIAOJIE_MIGRATE_DATABASE_URL": owner_url,
                "TIAOJIE_APP_DB_ROLE": role,
            },
            tmp_path=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert f"已创建数据库角色 {role}" in result.stdout

        app = make_engine(app_url)
        with app.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == role
        with session_scope(app, write=True) as session:
            record(
                session, actor_id=None, actor_name="system", action="case.accept", entity="case", entity_id=1
            )
        assert verify(app).intact and verify(app).checked == count + 1

        for sql in (
            "TRUNCATE audit_events",
            "UPDATE audit_events SET actor_name = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_chain_head",
            "UPDATE audit_chain_head SET n = 0",
        ):
            assert "permission denied" in _refused(app, sql), sql
        for sql in (
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
            "ALTER TABLE audit_events DISABLE TRIGGER ALL",
            "DROP TRIGGER audit_events_no_truncate ON audit_events",
        ):
            assert "must be owner" in _refused(app, sql), sql
        # Forging the chain columns in an insert is refused for the app as for anyone.
        assert "set by the database" in _refused(
            app,
            "INSERT INTO audit_events (at, actor_name, action, entity, row_hash, seq) "
            "VALUES (now(), 'a', 'b', 'c', 'x', 1)",
        )

        # The CLI as the app's role: the log as it was, plus the row above.
        result = _cli("audit", "verify", env={"TIAOJIE_DATABASE_URL": app_url}, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"审计日志完整：共 {count + 1} 条记录")
    finally:
        if app is not None:
            app.dispose()
        with engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


# --- the migration ----------------------------------------------------------------------------------


def test_the_migration_links_rows_written_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0003")
    old = make_engine(url)
    with old.begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor_name, action, entity, entity_id, after) "
                    "VALUES (:at, 'clerk', 'case.register', 'case', :i, :after)"
                ),
                {"at": f"2026-10-0{i + 1} 08:00:00.000000", "i": i, "after": '{"k": [1, 2], "中": "文"}'},
            )
    old.dispose()
    upgrade(url)
    engine = make_engine(url)
    try:
        report = verify(engine)
        assert (report.intact, report.checked) == (True, 3)
        with session_scope(engine, write=True) as session:
            record(session, actor_id=None, actor_name="system", action="x", entity="case", entity_id=9)
        assert verify(engine).checked == 4
    finally:
        engine.dispose()
