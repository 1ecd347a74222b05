"""The audit log becomes a hash chain with an anchor, and refuses TRUNCATE and INSERT OR REPLACE.

- `audit_events` gains `row_hash` (content hash, written by the app: models/audit_chain.py), and
  `seq`, `prev_hash`, `hash` (its place in the chain, written only by the database's trigger).
- `audit_chain_head` (one row) keeps the chain's length and last hash, so a log emptied or cut at its
  end is caught by `tiaojie audit verify`.
- PostgreSQL: rows are linked at commit by a deferred constraint trigger (SECURITY DEFINER, so the
  app's role needs no UPDATE on the log); TRUNCATE is refused by statement triggers; the UPDATE guard
  of 0002 lets through only the trigger's own linking of a row not yet linked.
- SQLite: an AFTER INSERT trigger links each row (with `tiaojie_chain_hash`, registered on every
  connection by models/audit.py); a BEFORE INSERT trigger refuses an insert that reuses an id
  (INSERT OR REPLACE deletes the old row without firing the DELETE trigger) or sets chain columns.
- Existing rows are hashed and linked in id order.

Revision ID: 0008
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import models.db
from models.audit_chain import CHAINED_FIELDS, GENESIS, link_digest, row_digest

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_CONTENT_COLUMNS_PG = (
    "id, at, actor_id, actor_name, action, entity, entity_id, case_id, before::text, after::text, row_hash"
)


def _add_columns() -> None:
    op.add_column("audit_events", sa.Column("row_hash", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("hash", sa.String(64), nullable=True))
    op.create_index("uq_audit_events_seq", "audit_events", ["seq"], unique=True)
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def _link_existing_rows() -> None:
    """Hash and link the rows written before this revision, in id order; set the anchor."""
    bind = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer()),
        sa.column("at", models.db.UTCDateTime()),
        sa.column("actor_id", sa.Integer()),
        sa.column("actor_name", sa.String()),
        sa.column("action", sa.String()),
        sa.column("entity", sa.String()),
        sa.column("entity_id", sa.Integer()),
        sa.column("case_id", sa.Integer()),
        sa.column("before", sa.JSON()),
        sa.column("after", sa.JSON()),
        sa.column("row_hash", sa.String()),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    rows = bind.execute(
        sa.select(events.c.id, *[events.c[name] for name in CHAINED_FIELDS]).order_by(events.c.id)
    ).all()
    prev, updates = GENESIS, []
    for seq, row in enumerate(rows, start=1):
        row_hash = row_digest(row._mapping)
        chain = link_digest(prev, row_hash)
        updates.append({"b_id": row.id, "row_hash": row_hash, "seq": seq, "prev_hash": prev, "hash": chain})
        prev = chain
    if updates:
        bind.execute(
            events.update()
            .where(events.c.id == sa.bindparam("b_id"))
            .values(
                row_hash=sa.bindparam("row_hash"),
                seq=sa.bindparam("seq"),
                prev_hash=sa.bindparam("prev_hash"),
                hash=sa.bindparam("hash"),
            ),
            updates,
        )
    bind.execute(
        sa.text("INSERT INTO audit_chain_head (id, n, last_hash) VALUES (1, :n, :h)"),
        {"n": len(rows), "h": prev},
    )


def _upgrade_sqlite() -> None:
    # 0002's UPDATE guard refuses every update; the linking trigger must fill a new row's chain columns.
    op.execute("DROP TRIGGER audit_events_no_update")
    _add_columns()
    _link_existing_rows()
    op.execute(
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events WHEN OLD.hash IS NOT NULL "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_events_guard_insert BEFORE INSERT ON audit_events BEGIN "
        "SELECT RAISE(ABORT, 'audit_events is append-only: an existing id cannot be inserted again') "
        "WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id); "
        "SELECT RAISE(ABORT, 'audit_events: seq, prev_hash and hash are set by the database') "
        "WHERE NEW.seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL; "
        "SELECT RAISE(ABORT, 'audit_events: row_hash is required') WHERE NEW.row_hash IS NULL; "
        "END"
    )
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
    op.execute(
        "CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head "
        "BEGIN SELECT RAISE(ABORT, 'audit_chain_head is the audit log anchor'); END"
    )


def _upgrade_postgresql() -> None:
    op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    _add_columns()
    _link_existing_rows()
    op.execute("ALTER TABLE audit_events ALTER COLUMN row_hash SET NOT NULL")
    op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    # Only the link trigger's own UPDATE (nested: trigger depth > 1) of a row not linked yet, changing
    # nothing but the chain columns, gets through.
    op.execute(
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 AND OLD.hash IS NULL AND OLD.seq IS NULL "
        f"AND ROW({', '.join('OLD.' + c for c in _CONTENT_COLUMNS_PG.split(', '))}) "
        f"IS NOT DISTINCT FROM ROW({', '.join('NEW.' + c for c in _CONTENT_COLUMNS_PG.split(', '))}) "
        "THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION 'audit_events is append-only'; END $$"
    )
    op.execute(
        "CREATE FUNCTION audit_events_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF NEW.seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN "
        "RAISE EXCEPTION 'audit_events: seq, prev_hash and hash are set by the database'; END IF; "
        "RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_events_guard_insert BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_guard_insert()"
    )
    # SECURITY DEFINER: runs as the owner, so the app's role needs no UPDATE on the log or its anchor.
    # The head row is locked from here to the end of the commit only.
    op.execute(
        "CREATE FUNCTION audit_events_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
        "SET search_path = pg_catalog, public AS $$ "
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
    op.execute("REVOKE ALL ON FUNCTION audit_events_link() FROM PUBLIC")
    op.execute(
        "CREATE CONSTRAINT TRIGGER audit_events_link AFTER INSERT ON audit_events "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_events_link()"
    )
    # The anchor: changed only by the link trigger (nested), never deleted.
    op.execute(
        "CREATE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION 'audit_chain_head is the audit log anchor'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE ON audit_chain_head "
        "FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard()"
    )
    op.execute(
        "CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME; END $$"
    )
    for table in ("audit_events", "audit_chain_head"):
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("audit_events_link", "audit_events_guard_insert", "audit_chain_head_no_delete"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TRIGGER audit_events_no_update")
    else:
        for table in ("audit_events", "audit_chain_head"):
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER audit_chain_head_guard ON audit_chain_head")
        op.execute("DROP TRIGGER audit_events_link ON audit_events")
        op.execute("DROP TRIGGER audit_events_guard_insert ON audit_events")
        for function in (
            "audit_refuse_truncate",
            "audit_chain_head_guard",
            "audit_events_link",
            "audit_events_guard_insert",
        ):
            op.execute(f"DROP FUNCTION {function}()")
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
        )
    op.drop_table("audit_chain_head")
    op.drop_index("uq_audit_events_seq", table_name="audit_events")
    for column in ("hash", "prev_hash", "seq", "row_hash"):
        op.drop_column("audit_events", column)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )
