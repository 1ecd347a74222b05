"""Engine, sessions and column types shared by every table."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import JSON, DateTime, Table, event, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine, Result
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

from models.settings import get_settings


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which drops tzinfo) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON lists/dicts (towns, specialties, attendees, audit before/after) on both databases.
JSONType = JSON


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use the umask, usually 0644), and tighten
    an existing one: it holds full ID numbers. SQLite gives its -wal and -shm files the database file's
    mode."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite will report the missing folder
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if candidate.exists() and candidate.stat().st_mode & 0o077:
                candidate.chmod(0o600)
    except PermissionError:
        pass  # a read-only or foreign file: SQLite reports what matters


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # WAL lets the pages read while a flow writes; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # pysqlite's own transaction handling defers BEGIN; we issue BEGIN ourselves below so
            # that writers can take the write lock up front (BEGIN IMMEDIATE) when they need to.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            immediate = conn.get_execution_options().get("immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


_engine_override: Engine | None = None
# The engine of the flow run in progress (set by the relay that runs it): a flow works on the database
# its outbox row came from, even with several engines in one process (tests, a relay still finishing).
_flow_engine: ContextVar[Engine | None] = ContextVar("tiaojie_flow_engine", default=None)


@lru_cache
def _configured_engine() -> Engine:
    settings = get_settings()
    settings.ensure_data_dir()
    return make_engine(settings.effective_database_url)


def get_engine() -> Engine:
    """The case database. Flows look it up here, so a test can point them at its own database."""
    return _flow_engine.get() or _engine_override or _configured_engine()


@contextmanager
def engine_for_flows(engine: Engine) -> Iterator[None]:
    token = _flow_engine.set(engine)
    try:
        yield
    finally:
        _flow_engine.reset(token)


def use_engine(engine: Engine | None) -> None:
    global _engine_override
    _engine_override = engine


@contextmanager
def session_scope(engine: Engine | None = None, *, write: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error.

    `write=True` takes SQLite's write lock at BEGIN, so two writers queue instead of one failing
    on lock upgrade (gap-free case numbers, panel confirmation under concurrency).
    """
    engine = engine or get_engine()
    lock = _sqlite_writer_lock(engine) if write else None
    if write:
        engine = engine.execution_options(immediate=True)
    if lock is not None:
        lock.acquire()
    try:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        if lock is not None:
            lock.release()


# SQLite has one writer at a time, and a writer that finds the lock taken sleeps in SQLite's busy handler
# (1, 2, 5, 10 … ms steps), long after the lock came free: under concurrent intakes most of the time went
# there. Writers of one process queue on a Python lock instead, handed over the moment the holder ends;
# other processes (workers, the CLI) still meet busy_timeout. Re-entrant: a nested writer in the same
# thread behaves as before.
_sqlite_writers: dict[str, threading.RLock] = {}
_sqlite_writers_guard = threading.Lock()


def _sqlite_writer_lock(engine: Engine) -> threading.RLock | None:
    if engine.dialect.name != "sqlite":
        return None
    key = engine.url.render_as_string(hide_password=False)
    with _sqlite_writers_guard:
        return _sqlite_writers.setdefault(key, threading.RLock())


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for bulk insert/update statements.

    SQLModel sets `Model.__table__` when the class is created but does not declare it, so the type
    checker cannot see it; the mapper hands out the same Table object, typed.
    """
    table = sa_inspect(model).local_table
    assert isinstance(table, Table), f"{model.__name__} is not mapped to a single table"
    return table


class _Row(Protocol):
    id: int | None


def id_of(row: _Row) -> int:
    """The primary key of a row known to be in the database (loaded, or added and flushed).

    Table models declare `id: int | None` because a new, unsaved row has none yet."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: add and flush it first")
    return row.id


def insert_ignore(session: Session, table: Table, values: dict[str, Any]) -> Result[Any]:
    """INSERT … ON CONFLICT DO NOTHING on either database (idempotent rows keyed by a unique column)."""
    # The two dialects' Insert classes are distinct types with the same on_conflict_do_nothing().
    statement: Executable
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing()
    # Values as parameters, not in the statement: the compiled statement is cached and reused.
    return session.execute(statement, values)
