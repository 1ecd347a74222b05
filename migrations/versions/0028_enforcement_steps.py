"""Enforcement steps (issue 20): per case, and per obligee where it is theirs, the 司法确认 applied and
confirmed, the 支付令 applied (with the terms it claims and its amount), 仲裁 and 诉讼, each with its day.
`documents.kind` widens to 48: `judicial_confirmation_application` (33 characters) did not fit in 32.

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

import models.db
import models.money

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite does not enforce a VARCHAR's length (and a batch rebuild of `documents` would drag every
    # table referencing it along): only PostgreSQL needs the wider column.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "documents",
            "kind",
            existing_type=sa.String(32),
            type_=sa.String(48),
            existing_nullable=False,
        )
    op.create_table(
        "enforcement_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.String(24), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("court", sa.String(120), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("term_ids", sa.JSON(), nullable=False),
        sa.Column("amount", models.money.Money(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("enforcement_steps") as batch_op:
        batch_op.create_index(batch_op.f("ix_enforcement_steps_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "documents", "kind", existing_type=sa.String(48), type_=sa.String(32), existing_nullable=False
        )
    with op.batch_alter_table("enforcement_steps") as batch_op:
        batch_op.drop_index(batch_op.f("ix_enforcement_steps_case_id"))
    op.drop_table("enforcement_steps")
