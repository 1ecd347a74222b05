"""Notices and their delivery records (issue 19 points 3 and 4).

- `deliveries`: one row per notice and party addressed (送达: method, status, date, who signed;
  民诉法 第87—90条 by analogy), with the 送达回证 issued when delivered or refused.
- `parties.consent_electronic`: the party agreed to electronic delivery (第90条 by analogy).

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

import models.db

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("delivered_at", sa.Date(), nullable=True),
        sa.Column("signed_by", sa.String(16), nullable=True),
        sa.Column("signer_name", sa.String(60), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("receipt_document_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["receipt_document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "party_id", name="uq_deliveries_document_party"),
    )
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_party_id"), ["party_id"], unique=False)
    with op.batch_alter_table("parties") as batch_op:
        batch_op.add_column(
            sa.Column("consent_electronic", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("parties") as batch_op:
        batch_op.drop_column("consent_electronic")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_party_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_document_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_case_id"))
    op.drop_table("deliveries")
