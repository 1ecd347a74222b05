"""Case-file records: the 人民调解记录 (who was present by real name and capacity, the recorder, each
speaker's statements, the rights and duties told and each party's answer including recusal requests),
the oral agreement (人民调解法 第28条: its terms, each party's consent, its performance, a party's request
for a written agreement).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

EMPTY_LIST = sa.text("'[]'")


def upgrade() -> None:
    with op.batch_alter_table("mediation_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("present", sa.JSON(), nullable=False, server_default=EMPTY_LIST))
        batch_op.add_column(
            sa.Column("recorder_name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True)
        )
        batch_op.add_column(sa.Column("statements", sa.JSON(), nullable=False, server_default=EMPTY_LIST))
        # Sessions recorded before this revision: the telling was not recorded (printed as such).
        batch_op.add_column(sa.Column("rights_told", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("party_answers", sa.JSON(), nullable=False, server_default=EMPTY_LIST))
    op.create_table(
        "oral_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=True),
        sa.Column("consents", sa.JSON(), nullable=True),
        sa.Column("performance", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("performed_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("performance_note", sa.Text(), nullable=True),
        sa.Column("written_requested_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("written_requested_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("agreement_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["mediation_sessions.id"]),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreements.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )
    with op.batch_alter_table("oral_agreements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oral_agreements_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oral_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oral_agreements_session_id"))
    op.drop_table("oral_agreements")
    with op.batch_alter_table("mediation_sessions", schema=None) as batch_op:
        for name in ("party_answers", "rights_told", "statements", "recorder_name", "present"):
            batch_op.drop_column(name)
