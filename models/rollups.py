"""Dashboard rollups: counters the leaders' figures read instead of scanning a million cases.

What is counted (what `models.backlog.backlog_summary` shows, nothing more):
- `rollup_case_state`: cases by town × category × stage × escalation level (and how many are 群体性):
  the open backlog by stage, category, town and the mass figures;
- `rollup_intake_days`: cases by China day of registration × town, and how many of them are still open:
  the weekly intake trend and the open backlog's age;
- `rollup_closed_weeks`: closings by China week (Monday) of `closed_at` × town × outcome: the rates and the
  weekly closing trend;
- `rollup_close_days`: the closing-time histogram (days from intake to closing of mediated cases) by
  week × town, plus a center-wide row per week and value (town '', no real town is empty): the
  median over a year is read from ~52 × 120 rows, not from ~190,000 closings.

How they are kept: database triggers on `cases`, generated here, installed by migration 0012.
- Same transaction by construction: a trigger runs inside the statement that changes the case, so a
  counter moves if and only if the change commits.
- Every writer is seen: intake's plain Core INSERT, the escalation sweep's executemany UPDATE,
  `apply_transition`'s ORM flush, the holiday recompute, a restore, an operator's psql. SQLAlchemy
  session events (before_flush) would miss every Core statement, and each new bulk path would have to
  remember the rollups.
- No extra round trip: intake sends its one INSERT; its two counter upserts run in the database.
- Counters are upserted (INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n) on both databases, so
  parallel intakes add up instead of losing counts. On PostgreSQL each feed is one statement whose rows
  (old key −1, new key +1) are merged and sorted by key: a canonical lock order, so two transactions
  moving the same two counters wait for each other instead of deadlocking. An intake's hot counters
  are taken after the case-number counter row it already holds (flows/intake.py), so they add no new
  serialisation point.
- One rule, one place: the trigger SQL and the rebuild use the same expressions, built from the rules
  the rest of the code reads (`OPEN_STAGE_VALUES` of models/deadlines.py, `MEDIATED` below). Changing
  such a rule needs a migration that runs `install_triggers` again; tests/integration/test_rollups.py
  fails while the installed triggers differ from the generated ones.
- `rebuild` (`tiaojie rollups rebuild`) recomputes every counter from the raw table in one transaction
  (writers are held off meanwhile) and says how many rows it corrected.

Not rollups: what depends on `now` at finer than a day. Overdue counts are read from the cases through
the partial index `ix_cases_overdue_watch` (open, clock running, ordered by deadline: a read proportional
to the overdue cases); the cut-offs of the age buckets and of the 365-day window fall inside a day or a
week, so those edges are counted exactly from the raw rows (`ix_cases_open_created`,
`ix_cases_closed_stats`) and the rest from the counters.

Days and weeks are China's (Asia/Shanghai; SQLite adds 8 hours, the same since 1991).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Index, text
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from models.case import OPEN_STAGES_SQL, Case
from models.db import table_of
from models.deadlines import OPEN_STAGE_VALUES
from models.tz import CHINA_TZ_NAME

# Outcomes of cases that went through mediation (a rejected application closes without it): the
# closing-time histogram and the success rate count these.
MEDIATED = ("agreed", "failed", "withdrawn")
ALL_TOWNS = ""  # the center-wide rows of rollup_close_days


class RollupCaseState(SQLModel, table=True):
    __tablename__ = "rollup_case_state"
    town: str = Field(primary_key=True, max_length=64)
    category: str = Field(primary_key=True, max_length=32)
    stage: str = Field(primary_key=True, max_length=20)
    escalation_level: int = Field(primary_key=True)
    n: int = 0
    n_mass: int = 0


class RollupIntakeDay(SQLModel, table=True):
    __tablename__ = "rollup_intake_days"
    day: date = Field(primary_key=True)
    town: str = Field(primary_key=True, max_length=64)
    n: int = 0
    n_open: int = 0


class RollupClosedWeek(SQLModel, table=True):
    __tablename__ = "rollup_closed_weeks"
    week: date = Field(primary_key=True)
    town: str = Field(primary_key=True, max_length=64)
    outcome: str = Field(primary_key=True, max_length=20)  # '' when none was recorded
    n: int = 0


class RollupCloseDays(SQLModel, table=True):
    __tablename__ = "rollup_close_days"
    # Town first: a town's (or the center's) weeks are one contiguous range of the key.
    town: str = Field(primary_key=True, max_length=64)
    week: date = Field(primary_key=True)
    days_to_close: int = Field(primary_key=True)
    n: int = 0


# --- Indexes on `cases` for the parts that depend on `now` ----------------------------------------

OVERDUE_WATCH_SQL = f"{OPEN_STAGES_SQL} AND clock_paused_since IS NULL AND stage_due_at IS NOT NULL"
_cases = table_of(Case)
# `overdue_sql(now)` implies this predicate: the overdue cases are a range at the start of the index.
OVERDUE_WATCH_INDEX = Index(
    "ix_cases_overdue_watch",
    _cases.c.stage_due_at,
    _cases.c.town,
    _cases.c.category,
    _cases.c.created_at,
    postgresql_where=text(OVERDUE_WATCH_SQL),
    sqlite_where=text(OVERDUE_WATCH_SQL),
)
# The open cases registered within a day of an age cut-off.
OPEN_CREATED_INDEX = Index(
    "ix_cases_open_created",
    _cases.c.created_at,
    _cases.c.town,
    postgresql_where=text(OPEN_STAGES_SQL),
    sqlite_where=text(OPEN_STAGES_SQL),
)


# --- The feeds: which counters a case row adds to, as SQL over a row alias -------------------------


def china_day_sql(expr: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"(({expr} AT TIME ZONE '{CHINA_TZ_NAME}')::date)"
    return f"date({expr}, '+8 hours')"


def china_week_sql(expr: str, dialect: str) -> str:
    """The Monday of the China week of an instant."""
    if dialect == "postgresql":
        return f"(date_trunc('week', {expr} AT TIME ZONE '{CHINA_TZ_NAME}')::date)"
    # Back six days, then forward to the next Monday (or stay on it).
    return f"date({expr}, '+8 hours', '-6 days', 'weekday 1')"


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _in(values: tuple[str, ...]) -> str:
    return "({})".format(", ".join(f"'{v}'" for v in values))


@dataclass(frozen=True)
class Feed:
    table: str
    keys: tuple[str, ...]
    counters: tuple[str, ...]
    watched: tuple[str, ...]  # the case columns whose change moves this feed
    # (row alias, dialect) -> the rows a case contributes: key expressions then counter expressions
    rows: Callable[[str, str], list[tuple[str, ...]]]
    # (row alias) -> whether the case contributes at all
    condition: Callable[[str], str]


FEEDS: tuple[Feed, ...] = (
    Feed(
        "rollup_case_state",
        ("town", "category", "stage", "escalation_level"),
        ("n", "n_mass"),
        ("town", "category", "stage", "escalation_level", "is_mass"),
        lambda r, d: [
            (f"{r}.town", f"{r}.category", f"{r}.stage", f"{r}.escalation_level", "1", _flag(f"{r}.is_mass"))
        ],
        lambda r: "1 = 1",
    ),
    Feed(
        "rollup_intake_days",
        ("day", "town"),
        ("n", "n_open"),
        ("created_at", "town", "stage"),
        lambda r, d: [
            (
                china_day_sql(f"{r}.created_at", d),
                f"{r}.town",
                "1",
                _flag(f"{r}.stage IN {_in(OPEN_STAGE_VALUES)}"),
            )
        ],
        lambda r: "1 = 1",
    ),
    Feed(
        "rollup_closed_weeks",
        ("week", "town", "outcome"),
        ("n",),
        ("closed_at", "town", "outcome"),
        lambda r, d: [(china_week_sql(f"{r}.closed_at", d), f"{r}.town", f"COALESCE({r}.outcome, '')", "1")],
        lambda r: f"{r}.closed_at IS NOT NULL",
    ),
    Feed(
        "rollup_close_days",
        ("town", "week", "days_to_close"),
        ("n",),
        ("closed_at", "town", "outcome", "days_to_close"),
        # The center's row first: rows in key order ('' sorts before every town) take their locks in
        # the same order in every transaction.
        lambda r, d: [
            (f"'{ALL_TOWNS}'", china_week_sql(f"{r}.closed_at", d), f"{r}.days_to_close", "1"),
            (f"{r}.town", china_week_sql(f"{r}.closed_at", d), f"{r}.days_to_close", "1"),
        ],
        lambda r: (
            f"{r}.closed_at IS NOT NULL AND {r}.outcome IN {_in(MEDIATED)} AND {r}.days_to_close IS NOT NULL"
        ),
    ),
)
WATCHED: tuple[str, ...] = tuple(dict.fromkeys(c for f in FEEDS for c in f.watched))


def _selects(feed: Feed, alias: str, dialect: str, sign: str = "") -> list[str]:
    """One SELECT per contributed row, columns named as the feed's table."""
    names = feed.keys + feed.counters
    out = []
    for row in feed.rows(alias, dialect):
        values = list(row[: len(feed.keys)]) + [f"{sign}({v})" for v in row[len(feed.keys) :]]
        out.append("SELECT " + ", ".join(f"{v} AS {n}" for v, n in zip(values, names, strict=True)))
    return out


def _upsert_tail(feed: Feed) -> str:
    bump = ", ".join(f"{c} = {feed.table}.{c} + excluded.{c}" for c in feed.counters)
    return f"ON CONFLICT ({', '.join(feed.keys)}) DO UPDATE SET {bump}"


def _changed(columns: tuple[str, ...], dialect: str) -> str:
    op = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return "(" + " OR ".join(f"OLD.{c} {op} NEW.{c}" for c in columns) + ")"


# --- Triggers ---------------------------------------------------------------------------------------

SQLITE_TRIGGERS = ("cases_rollups_insert", "cases_rollups_update", "cases_rollups_delete")
PG_FUNCTION = "cases_rollups"
PG_TRIGGERS = ("cases_rollups_insert_delete", "cases_rollups_update")


def _sqlite_statements(alias: str, sign: str, extra: Callable[[Feed], str]) -> str:
    body = []
    for feed in FEEDS:
        cols = ", ".join(feed.keys + feed.counters)
        for select in _selects(feed, alias, "sqlite", sign):
            # The WHERE also settles SQLite's INSERT ... SELECT ... ON CONFLICT parsing ambiguity.
            body.append(
                f"INSERT INTO {feed.table} ({cols}) {select} "
                f"WHERE {feed.condition(alias)}{extra(feed)} {_upsert_tail(feed)};"
            )
    return "\n  ".join(body)


def sqlite_trigger_sql() -> dict[str, str]:
    changed_any = _changed(WATCHED, "sqlite")
    return {
        "cases_rollups_insert": (
            "CREATE TRIGGER cases_rollups_insert AFTER INSERT ON cases BEGIN\n  "
            + _sqlite_statements("NEW", "", lambda f: "")
            + "\nEND"
        ),
        "cases_rollups_delete": (
            "CREATE TRIGGER cases_rollups_delete AFTER DELETE ON cases BEGIN\n  "
            + _sqlite_statements("OLD", "-", lambda f: "")
            + "\nEND"
        ),
        "cases_rollups_update": (
            f"CREATE TRIGGER cases_rollups_update AFTER UPDATE OF {', '.join(WATCHED)} ON cases "
            f"WHEN {changed_any} BEGIN\n  "
            + _sqlite_statements("OLD", "-", lambda f: f" AND {_changed(f.watched, 'sqlite')}")
            + "\n  "
            + _sqlite_statements("NEW", "", lambda f: f" AND {_changed(f.watched, 'sqlite')}")
            + "\nEND"
        ),
    }


def _pg_values(feed: Feed, alias: str, sign: str) -> str:
    """A plain multi-row upsert for one inserted or deleted case (its rows' keys always differ)."""
    cols = ", ".join(feed.keys + feed.counters)
    rows = [
        "(" + ", ".join(list(r[: len(feed.keys)]) + [f"{sign}({v})" for v in r[len(feed.keys) :]]) + ")"
        for r in feed.rows(alias, "postgresql")
    ]
    statement = f"INSERT INTO {feed.table} ({cols}) VALUES {', '.join(rows)} {_upsert_tail(feed)};"
    condition = feed.condition(alias)
    if condition == "1 = 1":
        return f"    {statement}"
    return f"    IF {condition} THEN\n      {statement}\n    END IF;"


def _pg_update(feed: Feed) -> str:
    """An updated case: −1 on its old keys, +1 on its new ones, merged and sorted by key."""
    cols = ", ".join(feed.keys + feed.counters)
    keys = ", ".join(feed.keys)
    parts = [f"{s} WHERE {feed.condition('OLD')}" for s in _selects(feed, "OLD", "postgresql", "-")] + [
        f"{s} WHERE {feed.condition('NEW')}" for s in _selects(feed, "NEW", "postgresql")
    ]
    sums = ", ".join(f"sum({c})" for c in feed.counters)
    nonzero = " OR ".join(f"sum({c}) <> 0" for c in feed.counters)
    return (
        f"    IF {_changed(feed.watched, 'postgresql')} "
        f"AND (({feed.condition('OLD')}) OR ({feed.condition('NEW')})) THEN\n"
        f"      INSERT INTO {feed.table} ({cols})\n"
        f"      SELECT {keys}, {sums} FROM (\n        "
        + "\n        UNION ALL ".join(parts)
        + f"\n      ) AS d GROUP BY {keys} HAVING {nonzero} ORDER BY {keys}\n"
        f"      {_upsert_tail(feed)};\n"
        "    END IF;"
    )


def pg_function_sql() -> str:
    # Intake runs the INSERT branch: one plain upsert per feed the new case counts in (two, open).
    return (
        f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        "  IF TG_OP = 'INSERT' THEN\n"
        + "\n".join(_pg_values(f, "NEW", "") for f in FEEDS)
        + "\n  ELSIF TG_OP = 'DELETE' THEN\n"
        + "\n".join(_pg_values(f, "OLD", "-") for f in FEEDS)
        + "\n  ELSE\n"
        + "\n".join(_pg_update(f) for f in FEEDS)
        + "\n  END IF;\n  RETURN NULL;\nEND\n$$"
    )


def pg_trigger_sql() -> list[str]:
    return [
        f"CREATE TRIGGER cases_rollups_insert_delete AFTER INSERT OR DELETE ON cases "
        f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()",
        f"CREATE TRIGGER cases_rollups_update AFTER UPDATE OF {', '.join(WATCHED)} ON cases "
        f"FOR EACH ROW WHEN {_changed(WATCHED, 'postgresql')} EXECUTE FUNCTION {PG_FUNCTION}()",
    ]


def drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for name in PG_TRIGGERS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON cases"))
        conn.execute(text(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()"))
    else:
        for name in SQLITE_TRIGGERS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def install_triggers(conn: Connection) -> None:
    """(Re)create the triggers from the current rules (as the tables' owner: a migration)."""
    drop_triggers(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text(pg_function_sql()))
        for ddl in pg_trigger_sql():
            conn.execute(text(ddl))
    else:
        for ddl in sqlite_trigger_sql().values():
            conn.execute(text(ddl))


def triggers_current(conn: Connection) -> bool:
    """Whether the installed triggers are the ones these rules generate."""
    if conn.dialect.name == "postgresql":
        installed = conn.execute(
            text("SELECT prosrc FROM pg_proc WHERE proname = :name"), {"name": PG_FUNCTION}
        ).scalar()
        expected = pg_function_sql().split("$$")[1]
        triggers = conn.execute(
            text(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = 'cases'::regclass AND tgname LIKE 'cases_rollups%' ORDER BY tgname"
            )
        ).all()
        return installed == expected and [t for t, _ in triggers] == sorted(PG_TRIGGERS)
    installed_sql: dict[str, str] = dict(
        conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'cases_rollups%'")
        ).all()
    )
    return installed_sql == sqlite_trigger_sql()


# --- Rebuild ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildReport:
    cases: int
    rows: dict[str, int]  # rows per rollup table after the rebuild
    corrected: int  # keys whose counters were wrong (or missing, or left over) before

    def line(self) -> str:
        return (
            f"已重建看板统计：{self.cases} 件案件，汇总 {sum(self.rows.values())} 行，"
            f"修正 {self.corrected} 行"
        )


def fresh_sql(feed: Feed, dialect: str) -> str:
    """The feed's counters computed from the raw table (the same expressions as the triggers)."""
    keys = ", ".join(feed.keys)
    sums = ", ".join(f"sum({c}) AS {c}" for c in feed.counters)
    parts = [f"{s} FROM cases AS c WHERE {feed.condition('c')}" for s in _selects(feed, "c", dialect)]
    return f"SELECT {keys}, {sums} FROM ({' UNION ALL '.join(parts)}) AS d GROUP BY {keys}"


def rebuild(conn: Connection) -> RebuildReport:
    """Recompute every counter from `cases`, in the caller's transaction. Writers of cases wait meanwhile
    (PostgreSQL: SHARE lock; SQLite: the caller holds the write lock), so no change falls between the
    read of the raw rows and the replacement of the counters."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("LOCK TABLE cases IN SHARE MODE"))
    corrected = 0
    rows: dict[str, int] = {}
    for feed in FEEDS:
        cols = ", ".join(feed.keys + feed.counters)
        keys = ", ".join(feed.keys)
        nonzero = " OR ".join(f"{c} <> 0" for c in feed.counters)
        conn.execute(text("DROP TABLE IF EXISTS rollup_fresh"))
        conn.execute(text(f"CREATE TEMPORARY TABLE rollup_fresh AS {fresh_sql(feed, dialect)}"))
        kept = f"SELECT {cols} FROM {feed.table} WHERE {nonzero}"
        fresh = f"SELECT {cols} FROM rollup_fresh"
        corrected += conn.execute(
            text(
                f"SELECT count(*) FROM (SELECT {keys} FROM ({kept} EXCEPT {fresh}) AS a "
                f"UNION SELECT {keys} FROM ({fresh} EXCEPT {kept}) AS b) AS x"
            )
        ).scalar_one()
        conn.execute(text(f"DELETE FROM {feed.table}"))
        # In key order: the rows a dashboard reads together start out on the same pages.
        conn.execute(text(f"INSERT INTO {feed.table} ({cols}) {fresh} ORDER BY {keys}"))
        rows[feed.table] = conn.execute(text(f"SELECT count(*) FROM {feed.table}")).scalar_one()
        conn.execute(text("DROP TABLE rollup_fresh"))
    cases = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
    return RebuildReport(cases=cases, rows=rows, corrected=corrected)
