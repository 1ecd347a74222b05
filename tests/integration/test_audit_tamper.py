"""The audit log is tamper-evident: every tampering statement of issue 12 is refused, and when an owner
forces it anyway (triggers dropped or disabled), `tiaojie audit verify` names the first broken row.

On PostgreSQL the app's own role cannot TRUNCATE, UPDATE, DELETE or disable the triggers at all."""

from __future__ import annotations

import json
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
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from flows.audit_anchor import AnchorRefused, anchor, archived_anchors
from flows.registry import SCHEDULED
from models.audit import AuditEvent, audit_row, record, verify
from models.audit_chain import (
    GENESIS,
    AnchorError,
    audit_keys,
    grant_app_role,
    link_digest,
    row_digest,
    row_mac,
)
from models.db import make_engine, session_scope, table_of
from models.migrate import alembic_config, upgrade
from models.settings import Settings, get_settings
from ops.backup import backup, manifest_anchor, restore
from tests.factories import add_user, neighbor_case, register
from tests.support.clock import CHINA

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("tiaojie")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "api.cli"]


def _audited_actions(engine: Engine) -> int:
    """A clerk account, two registered cases and a settings change: returns how many audit rows exist."""
    clerk = add_user(engine, "clerk", "staff")
    register(engine, neighbor_case(), actor_id=clerk, now=datetime(2026, 11, 2, 9, tzinfo=CHINA))
    register(
        engine, neighbor_case(summary="噪音扰民"), actor_id=clerk, now=datetime(2026, 11, 2, 10, tzinfo=CHINA)
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
            # The key the rows of this process were written with: their MACs check out in the CLI too.
            "TIAOJIE_SECRET_KEY": os.environ["TIAOJIE_SECRET_KEY"],
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONIOENCODING": "utf-8",
            "TIAOJIE_FLOW_RUNNER": "inline",  # the engine is not the subject (tests/conftest.py)
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
    assert result.stdout == (
        f"审计日志完整：共 {count} 条记录，链尾哈希 {prev}"
        "（未找到外部锚点，无法发现整表重建：请运行 tiaojie audit anchor）\n"
    )

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
        # Rows older than 0019 carry no MAC and need none; from the next row on, every one does.
        assert (report.mac_from, _head(engine)[2]) == (4, 4)
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT count(*) FROM audit_events WHERE row_mac IS NULL")).scalar_one()
                == 3
            )
        with session_scope(engine, write=True) as session:
            record(session, actor_id=None, actor_name="system", action="x", entity="case", entity_id=9)
        assert verify(engine).checked == 4
        content = {
            "at": datetime(2026, 11, 2, 1, tzinfo=ZoneInfo("UTC")),
            "actor_name": "x",
            "action": "y",
            "entity": "z",
        }
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor_name, action, entity, row_hash) "
                    "VALUES ('2026-11-02 01:00:00.000000', 'x', 'y', 'z', :h)"
                ),
                {"h": row_digest(content)},
            )
        report = verify(engine)
        assert (report.intact, report.broken_seq) == (False, 5)
        assert "签名不符" in report.reason
    finally:
        engine.dispose()


# --- issue 24: the anchor row, row MACs, anchors outside the database, the definer's search_path ----


@contextmanager
def _as_owner_past_guards(engine: Engine) -> Iterator[Connection]:
    """The owner with every guard of the log and its anchor out of the way (dropped on SQLite, disabled and
    enabled again before the commit on PostgreSQL): what someone holding the database file or the owner's
    password can do."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for trigger in ("audit_events_no_delete", "audit_chain_head_no_update"):
                conn.execute(text(f"DROP TRIGGER {trigger}"))
            yield conn
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            conn.execute(text("ALTER TABLE audit_chain_head DISABLE TRIGGER audit_chain_head_guard"))
            yield conn
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
            conn.execute(text("ALTER TABLE audit_chain_head ENABLE TRIGGER audit_chain_head_guard"))


def _head(engine: Engine) -> tuple[int, str, int]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT n, last_hash, mac_from FROM audit_chain_head WHERE id = 1")).one()
    return int(row.n), row.last_hash, int(row.mac_from)


def test_the_anchor_row_refuses_every_change_but_the_chains_own_advance(engine: Engine) -> None:
    count = _audited_actions(engine)
    n, last, mac_from = _head(engine)
    assert (n, mac_from) == (count, 1)
    with engine.connect() as conn:
        earlier = conn.execute(
            text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": count - 2}
        ).scalar_one()
    for sql in (
        # Back two rows, to a hash that is in the chain: what hides the newest rows being cut.
        "UPDATE audit_chain_head SET n = :n - 2, last_hash = :h",
        "UPDATE audit_chain_head SET n = 0, last_hash = '" + GENESIS + "'",
        # One row on, to a hash no row has.
        "UPDATE audit_chain_head SET n = :n + 1, last_hash = :h",
        # Exempting rows from the MAC.
        "UPDATE audit_chain_head SET mac_from = 1000",
        "DELETE FROM audit_chain_head",
    ):
        assert "anchor" in _refused(engine, sql, {"n": count, "h": earlier}), sql
    if engine.dialect.name == "sqlite":
        # REPLACE deletes the row without firing its DELETE trigger.
        assert "anchor" in _refused(
            engine,
            "INSERT OR REPLACE INTO audit_chain_head (id, n, last_hash, mac_from) VALUES (1, 0, :h, 1)",
            {"h": GENESIS},
        )
    assert _head(engine) == (n, last, mac_from)
    # The chain's own advance still gets through.
    with session_scope(engine, write=True) as session:
        record(session, actor_id=None, actor_name="system", action="x", entity="case", entity_id=1)
    report = verify(engine)
    assert (report.intact, report.checked) == (True, count + 1)
    assert _head(engine)[0] == count + 1


def _cut_newest(engine: Engine, drop: int) -> None:
    """Delete the newest `drop` rows and set the anchor row to the row now last: consistent inside."""
    with _as_owner_past_guards(engine) as conn:
        n = conn.execute(text("SELECT n FROM audit_chain_head")).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": n - drop})
        last = conn.execute(
            text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": n - drop}
        ).scalar_one()
        conn.execute(text("UPDATE audit_chain_head SET n = :n, last_hash = :h"), {"n": n - drop, "h": last})


def test_cutting_the_newest_rows_and_the_anchor_row_is_caught_by_the_anchor_outside(
    engine: Engine, tmp_path: Path
) -> None:
    count = _audited_actions(engine)
    data_dir = tmp_path / "cli-data"
    kept = anchor(engine, now=datetime(2026, 11, 3, 2, 30, tzinfo=CHINA), data_dir=data_dir)
    assert (kept.n, kept.last_hash) == (count, verify(engine).head_hash)
    stored = json.loads((data_dir / "documents" / "audit-anchors" / kept.source).read_text())
    assert {k: stored[k] for k in ("n", "last_hash", "mac_from", "at")} == {
        "n": count,
        "last_hash": kept.last_hash,
        "mac_from": 1,
        "at": "2026-11-02T18:30:00+00:00",
    }
    result = _cli("audit", "verify", env={"TIAOJIE_DATABASE_URL": _url(engine)}, tmp_path=tmp_path)
    assert result.stdout == (
        f"审计日志完整：共 {count} 条记录，链尾哈希 {kept.last_hash}，"
        f"与外部锚点（2026-11-02 18:30:00 UTC，{count} 条）相符\n"
    )

    _cut_newest(engine, 2)
    assert verify(engine).intact  # inside the database nothing is left to see
    report = verify(engine, anchors=archived_anchors(data_dir))
    assert (report.intact, report.broken_seq) == (False, count - 1)
    reason = (
        f"链尾缺失：外部锚点（2026-11-02 18:30:00 UTC）记有 {count} 条，"
        f"库中只有 {count - 2} 条（日志被截短或重建）"
    )
    assert report.reason == reason
    result = _cli("audit", "verify", env={"TIAOJIE_DATABASE_URL": _url(engine)}, tmp_path=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"tiaojie: 审计日志被篡改：{reason}\n")
    # Anchoring a tampered log is refused: it would vouch for the cut.
    with pytest.raises(AnchorRefused, match="链尾缺失"):
        anchor(engine, now=datetime(2026, 11, 4, 2, 30, tzinfo=CHINA), data_dir=data_dir)

    # An anchor edited to match the cut log no longer carries a valid signature.
    path = data_dir / "documents" / "audit-anchors" / kept.source
    assert path.stat().st_mode & 0o777 == 0o400  # kept like the PDFs: written once, read-only
    path.chmod(0o600)
    path.write_text(json.dumps({**stored, "n": count - 2}))
    with pytest.raises(AnchorError, match="签名无效"):
        archived_anchors(data_dir)


def test_a_rebuilt_log_is_caught_by_the_anchor_outside(engine: Engine, tmp_path: Path) -> None:
    """The log renamed away, an empty one in its place and the anchor row reset: inside, "0 rows, intact"."""
    count = _audited_actions(engine)
    data_dir = tmp_path / "cli-data"
    env = {"TIAOJIE_DATABASE_URL": _url(engine)}
    result = _cli("audit", "anchor", "--now", "2026-11-03T02:30:00+08:00", env=env, tmp_path=tmp_path)
    assert (result.returncode, result.stdout) == (
        0,
        f"已写外部锚点 20261102T183000000000Z-{count}.json：共 {count} 条记录，"
        f"链尾哈希 {verify(engine).head_hash}\n",
    ), result.stderr
    postgres = engine.dialect.name == "postgresql"
    guard = "audit_chain_head_guard" if postgres else "audit_chain_head_no_update"
    try:
        with engine.begin() as conn:
            if postgres:
                conn.execute(text(f"ALTER TABLE audit_chain_head DISABLE TRIGGER {guard}"))
            else:
                conn.execute(text(f"DROP TRIGGER {guard}"))
            conn.execute(text("ALTER TABLE audit_events RENAME TO audit_events_old"))
            if postgres:
                conn.execute(text("CREATE TABLE audit_events (LIKE audit_events_old INCLUDING DEFAULTS)"))
            else:
                conn.execute(text("CREATE TABLE audit_events AS SELECT * FROM audit_events_old WHERE 0"))
            conn.execute(text("UPDATE audit_chain_head SET n = 0, last_hash = :g"), {"g": GENESIS})
            if postgres:
                conn.execute(text(f"ALTER TABLE audit_chain_head ENABLE TRIGGER {guard}"))
        assert verify(engine).line().startswith("审计日志完整：共 0 条记录")
        report = verify(engine, anchors=archived_anchors(data_dir))
        assert (report.intact, report.checked, report.broken_seq) == (False, 0, 1)
        assert report.reason.startswith(
            f"链尾缺失：外部锚点（2026-11-02 18:30:00 UTC）记有 {count} 条，库中只有 0 条"
        )
        result = _cli("audit", "verify", env={"TIAOJIE_DATABASE_URL": _url(engine)}, tmp_path=tmp_path)
        assert (result.returncode, result.stderr) == (1, f"tiaojie: {report.line()}\n")
    finally:
        if postgres:  # the database is shared by the run's tests: put the log back
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE audit_events"))
                conn.execute(text("ALTER TABLE audit_events_old RENAME TO audit_events"))


def test_a_row_inserted_by_sql_is_caught_by_its_mac(engine: Engine) -> None:
    """The forger computes the content hash (no key needed) and the chain trigger links the row like any
    other; without the app's key its MAC cannot be right."""
    count = _audited_actions(engine)
    at = datetime(2026, 11, 2, 1, tzinfo=ZoneInfo("UTC"))
    content = {"at": at, "actor_name": "clerk", "action": "case.close", "entity": "case", "entity_id": 1}
    guessed = row_mac(content, audit_keys("a guessed secret").row)
    columns = "at, actor_name, action, entity, entity_id, row_hash, row_mac"
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO audit_events ({columns}) VALUES (:at, 'clerk', 'case.close', 'case', 1, :h, :m)"
            ),
            {"at": at, "h": row_digest(content), "m": guessed},
        )
    with engine.connect() as conn:
        forged = conn.execute(text("SELECT id, seq FROM audit_events WHERE action = 'case.close'")).one()
    assert forged.seq == count + 1  # linked: the chain alone cannot tell it from a real one
    report = verify(engine)
    assert (report.intact, report.broken_id, report.broken_seq) == (False, forged.id, count + 1)
    assert (
        report.reason
        == f"记录 id={forged.id}（序号 {count + 1}）的签名不符：不是本系统写入的（伪造或以 SQL 插入）"
    )
    # The same row with the app's key verifies: the MAC is what told them apart.
    assert row_mac(content) != guessed


def test_a_row_without_a_mac_is_caught(engine: Engine) -> None:
    count = _audited_actions(engine)
    content = {
        "at": datetime(2026, 11, 2, 1, tzinfo=ZoneInfo("UTC")),
        "actor_name": "x",
        "action": "y",
        "entity": "z",
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (at, actor_name, action, entity, row_hash) "
                "VALUES (:at, 'x', 'y', 'z', :h)"
            ),
            {"at": content["at"], "h": row_digest(content)},
        )
    report = verify(engine)
    assert (report.intact, report.broken_seq) == (False, count + 1)
    assert "签名不符" in report.reason


def test_every_backup_carries_a_signed_anchor_the_log_is_held_to(engine: Engine, tmp_path: Path) -> None:
    count = _audited_actions(engine)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=_url(engine), secret_key=os.environ["TIAOJIE_SECRET_KEY"]
    )
    out = tmp_path / "b.tar.gz"
    manifest = backup(out, now=datetime(2026, 11, 3, 3, tzinfo=CHINA), settings=settings)
    kept = manifest_anchor(out)
    assert kept is not None
    assert (kept.n, kept.last_hash, kept.mac_from) == (count, verify(engine).head_hash, 1)
    assert manifest["audit_anchor"]["at"] == "2026-11-02T19:00:00+00:00"
    assert verify(engine, anchors=[kept]).intact

    _cut_newest(engine, 1)
    report = verify(engine, anchors=[kept])
    assert report.reason.startswith(f"链尾缺失：外部锚点（2026-11-02 19:00:00 UTC）记有 {count} 条")
    result = _cli(
        "audit", "verify", "--backup", str(out), env={"TIAOJIE_DATABASE_URL": _url(engine)}, tmp_path=tmp_path
    )
    assert (result.returncode, result.stderr) == (1, f"tiaojie: {report.line()}\n")


def test_restoring_an_older_backup_anchors_the_restored_log_again(engine: Engine, tmp_path: Path) -> None:
    """The archive's later anchor names rows the older backup does not have: the restore holds the log to
    the backup's own anchor and anchors it again, so `audit verify` passes, and still catches a cut after."""
    _sqlite_only(engine)  # PostgreSQL's restore recreates every table of the database the run shares
    count = _audited_actions(engine)
    data_dir = tmp_path / "data"
    settings = Settings(
        data_dir=data_dir, database_url=_url(engine), secret_key=os.environ["TIAOJIE_SECRET_KEY"]
    )
    out = tmp_path / "b.tar.gz"
    backup(out, now=datetime(2026, 11, 3, 3, tzinfo=CHINA), settings=settings)
    with session_scope(engine, write=True) as session:
        record(session, actor_id=None, actor_name="system", action="x", entity="case", entity_id=1)
    anchor(engine, now=datetime(2026, 11, 4, 2, 30, tzinfo=CHINA), data_dir=data_dir)

    result = restore(out, force=True, settings=settings, now=datetime(2026, 11, 5, 9, tzinfo=CHINA))
    assert result.audit == f"审计日志已校验并重新锚定：共 {count} 条记录"
    report = verify(engine, anchors=archived_anchors(data_dir))
    assert (report.intact, report.checked) == (True, count), report.reason
    assert report.anchor is not None and report.anchor.at == datetime(2026, 11, 5, 1, tzinfo=ZoneInfo("UTC"))
    _cut_newest(engine, 1)
    assert not verify(engine, anchors=archived_anchors(data_dir)).intact


@pytest.fixture
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's data dir for this test only: anchors of other tests' databases are not this log's."""
    monkeypatch.setenv("TIAOJIE_DATA_DIR", str(tmp_path / "app-data"))
    get_settings.cache_clear()
    yield tmp_path / "app-data"
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_daily_schedule_anchors_the_log(engine: Engine, own_data_dir: Path) -> None:
    """The cron table both modes read runs `audit-anchor` daily; the flow keeps an anchor in the archive."""
    count = _audited_actions(engine)
    flow_obj, cron = SCHEDULED["audit-anchor"]
    assert cron == "30 2 * * *"
    # The flow's own function: its subject is what the daily run does, not Prefect's engine.
    assert flow_obj.fn(now_iso="2026-11-03T02:30:00+08:00") == count
    kept = archived_anchors(own_data_dir)
    assert [(a.n, a.last_hash, a.at) for a in kept] == [
        (count, verify(engine).head_hash, datetime(2026, 11, 2, 18, 30, tzinfo=ZoneInfo("UTC")))
    ]


def test_postgres_a_temporary_anchor_table_neither_jams_nor_forks_the_chain(engine: Engine) -> None:
    """The link function runs as the owner; were pg_temp searched first (it is, unless named last), the app's
    role could put a temporary `audit_chain_head` in front of the real one for its session's writes."""
    _postgres_only(engine)
    count = _audited_actions(engine)
    role = f"tiaojie_app_{uuid.uuid4().hex[:10]}"
    grant_app_role(engine, role)
    app = make_engine(
        make_url(_url(engine)).set(username=role, password=None).render_as_string(hide_password=False)
    )
    try:
        with app.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == role
            conn.execute(
                text(
                    "CREATE TEMP TABLE audit_chain_head "
                    "(id int PRIMARY KEY, n bigint, last_hash text, mac_from bigint)"
                )
            )
            conn.execute(text("INSERT INTO audit_chain_head VALUES (1, 0, :g, 1)"), {"g": GENESIS})
            conn.commit()
            values = audit_row(
                actor_id=None, actor_name="system", action="case.accept", entity="case", entity_id=1
            )
            conn.execute(insert(table_of(AuditEvent)), values)
            conn.commit()
            assert conn.execute(text("SELECT n FROM pg_temp.audit_chain_head")).scalar_one() == 0
        report = verify(engine)
        assert (report.intact, report.checked) == (True, count + 1), report.reason
        assert _head(engine)[0] == count + 1
    finally:
        app.dispose()
        with engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
