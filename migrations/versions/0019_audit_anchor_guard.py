"""The audit anchor is guarded like the log; rows carry a MAC; trigger functions get a safe search_path.

- `audit_chain_head`: UPDATE refused except the chain's own advance (one row further, to the hash of the
  row the chain trigger just linked, `mac_from` unchanged); INSERT refused on SQLite (INSERT OR REPLACE
  would delete the row without firing its DELETE trigger). It gains `mac_from`: the first `seq` that
  must carry a row MAC, the next one at this migration.
- `audit_events.row_mac`: HMAC of the row's content, written by the app (models/audit_chain.py) with a
  key the database does not hold. Rows already there keep NULL (see models/audit_chain.py for why).
- PostgreSQL: every trigger function runs with `search_path = pg_catalog, <schema>, pg_temp`. Without
  pg_temp named last, it is searched first, and the SECURITY DEFINER link function would read and update
  a temporary `audit_chain_head` the caller created in their own session.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from models.audit_chain import GENESIS

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_CONTENT = [
    *("id", "at", "actor_id", "actor_name", "action", "entity", "entity_id", "case_id"),
    *("before::text", "after::text", "row_hash", "row_mac"),
]

# The head may move only one row on, to the hash of the row with that seq, whose previous hash is the
# head's: exactly what the chain trigger does after linking a row.
_ADVANCE = (
    "NEW.id = OLD.id AND NEW.mac_from = OLD.mac_from AND NEW.n = OLD.n + 1 AND EXISTS ("
    "SELECT 1 FROM audit_events e WHERE e.seq = NEW.n AND e.hash = NEW.last_hash "
    "AND e.prev_hash = OLD.last_hash)"
)


def _add_columns() -> None:
    op.add_column("audit_events", sa.Column("row_mac", sa.String(64), nullable=True))
    op.add_column(
        "audit_chain_head", sa.Column("mac_from", sa.BigInteger(), nullable=False, server_default="1")
    )


def _upgrade_sqlite() -> None:
    _add_columns()
    op.execute("UPDATE audit_chain_head SET mac_from = n + 1")
    # The head row exists since 0008: the link trigger updates it (an upsert would be an INSERT, refused).
    op.execute("DROP TRIGGER audit_events_link")
    op.execute(
        "CREATE TRIGGER audit_events_link AFTER INSERT ON audit_events BEGIN "
        "UPDATE audit_events SET seq = (SELECT n FROM audit_chain_head WHERE id = 1) + 1, "
        "prev_hash = (SELECT last_hash FROM audit_chain_head WHERE id = 1), "
        "hash = tiaojie_chain_hash((SELECT last_hash FROM audit_chain_head WHERE id = 1), NEW.row_hash) "
        "WHERE id = NEW.id; "
        "UPDATE audit_chain_head SET n = (SELECT seq FROM audit_events WHERE id = NEW.id), "
        "last_hash = (SELECT hash FROM audit_events WHERE id = NEW.id) WHERE id = 1; "
        "END"
    )
    op.execute(
        f"CREATE TRIGGER audit_chain_head_no_update BEFORE UPDATE ON audit_chain_head WHEN NOT ({_ADVANCE}) "
        "BEGIN SELECT RAISE(ABORT, 'audit_chain_head is the audit log anchor: only the chain advances it'); "
        "END"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_head_no_insert BEFORE INSERT ON audit_chain_head "
        "BEGIN SELECT RAISE(ABORT, 'audit_chain_head is the audit log anchor'); END"
    )


def _search_path() -> str:
    schema = op.get_bind().execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    return f"SET search_path = pg_catalog, {schema}, pg_temp"


def _upgrade_postgresql() -> None:
    path = _search_path()
    _add_columns()
    op.execute("ALTER TABLE audit_chain_head DISABLE TRIGGER audit_chain_head_guard")
    op.execute("UPDATE audit_chain_head SET mac_from = n + 1")
    op.execute("ALTER TABLE audit_chain_head ENABLE TRIGGER audit_chain_head_guard")
    # As in 0008, with row_mac among the columns the link may not change.
    op.execute(
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql "
        f"{path} AS $$ BEGIN "
        "IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 AND OLD.hash IS NULL AND OLD.seq IS NULL "
        f"AND ROW({', '.join('OLD.' + c for c in _CONTENT)}) "
        f"IS NOT DISTINCT FROM ROW({', '.join('NEW.' + c for c in _CONTENT)}) "
        "THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION 'audit_events is append-only'; END $$"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION audit_events_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
        f"{path} AS $$ "
        "DECLARE head_n bigint; head_hash text; new_hash text; "
        "BEGIN "
        "SELECT n, last_hash INTO head_n, head_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE; "
        "IF NOT FOUND THEN "
        f"INSERT INTO audit_chain_head (id, n, last_hash) VALUES (1, 0, '{GENESIS}') "
        "ON CONFLICT (id) DO NOTHING; "
        "SELECT n, last_hash INTO head_n, head_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE; "
        "END IF; "
        "new_hash := encode(sha256(convert_to(head_hash || NEW.row_hash, 'UTF8')), 'hex'); "
        "UPDATE audit_events SET seq = head_n + 1, prev_hash = head_hash, hash = new_hash WHERE id = NEW.id; "
        "UPDATE audit_chain_head SET n = head_n + 1, last_hash = new_hash WHERE id = 1; "
        "RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE OR REPLACE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql {path} AS $$ "
        f"BEGIN IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 AND {_ADVANCE} THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION 'audit_chain_head is the audit log anchor: only the chain advances it'; END $$"
    )
    for function in ("audit_events_guard_insert", "audit_refuse_truncate"):
        op.execute(f"ALTER FUNCTION {function}() {path}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_chain_head_no_insert")
        op.execute("DROP TRIGGER audit_chain_head_no_update")
        op.execute("DROP TRIGGER audit_events_link")
        head_n = "COALESCE((SELECT n FROM audit_chain_head WHERE id = 1), 0)"
        head_hash = f"COALESCE((SELECT last_hash FROM audit_chain_head WHERE id = 1), '{GENESIS}')"
        op.execute(
            "CREATE TRIGGER audit_events_link AFTER INSERT ON audit_events BEGIN "
            f"UPDATE audit_events SET seq = {head_n} + 1, prev_hash = {head_hash}, "
            f"hash = tiaojie_chain_hash({head_hash}, NEW.row_hash) WHERE id = NEW.id; "
            "INSERT INTO audit_chain_head (id, n, last_hash) "
            "SELECT 1, seq, hash FROM audit_events WHERE id = NEW.id "
            "ON CONFLICT (id) DO UPDATE SET n = excluded.n, last_hash = excluded.last_hash; "
            "END"
        )
    else:
        op.execute("ALTER FUNCTION audit_events_link() SET search_path = pg_catalog, public")
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION 'audit_chain_head is the audit log anchor'; END $$"
        )
        content = [c for c in _CONTENT if c != "row_mac"]
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            "IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 AND OLD.hash IS NULL AND OLD.seq IS NULL "
            f"AND ROW({', '.join('OLD.' + c for c in content)}) "
            f"IS NOT DISTINCT FROM ROW({', '.join('NEW.' + c for c in content)}) "
            "THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION 'audit_events is append-only'; END $$"
        )
        for function in (
            "audit_events_append_only",
            "audit_chain_head_guard",
            "audit_events_guard_insert",
            "audit_refuse_truncate",
        ):
            op.execute(f"ALTER FUNCTION {function}() RESET search_path")
    op.drop_column("audit_chain_head", "mac_from")
    op.drop_column("audit_events", "row_mac")
