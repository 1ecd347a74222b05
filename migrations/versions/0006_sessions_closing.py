"""Sessions rescheduled and cancelled (numbered by date), follow-ups with visit date, method and per-term
state, and the 结案 decision (kind, and the director's approval where the center requires it).

Revision ID: 0006
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EMPTY_LIST = sa.text("'[]'")


def upgrade() -> None:
    with op.batch_alter_table("mediation_sessions", schema=None) as batch_op:
        # A cancelled session has no number; the unique (case_id, seq) allows several NULLs.
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("reschedules", sa.JSON(), nullable=False, server_default=EMPTY_LIST))
        batch_op.add_column(sa.Column("cancelled_at", models.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancelled_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key("fk_sessions_cancelled_by", "users", ["cancelled_by"], ["id"])
    with op.batch_alter_table("agreement_terms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("visited_person", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.add_column(sa.Column("opinion", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("term_states", sa.JSON(), nullable=False, server_default=EMPTY_LIST))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("close_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
    # A term found performed before this revision was marked so by a follow-up.
    op.execute("UPDATE agreement_terms SET state = 'performed' WHERE performed")
    op.create_table(
        "case_closings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("approved_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approval_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["approved_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_closings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_closings_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_closings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_closings_case_id"))
    op.drop_table("case_closings")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("close_kind")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        for name in ("term_states", "opinion", "visited_person", "method"):
            batch_op.drop_column(name)
    with op.batch_alter_table("agreement_terms", schema=None) as batch_op:
        batch_op.drop_column("state")
    # Cancelled sessions have no number: they go with the columns that explain them.
    op.execute("DELETE FROM mediation_sessions WHERE seq IS NULL")
    with op.batch_alter_table("mediation_sessions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sessions_cancelled_by", type_="foreignkey")
        for name in ("cancel_reason", "cancelled_by", "cancelled_at", "reschedules"):
            batch_op.drop_column(name)
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
