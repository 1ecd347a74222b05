"""Payments on money terms reported at a 回访 (amount and day), so the case shows what is still owed.

Revision ID: 0021
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

import models.db
import models.money

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "term_payments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("term_id", sa.Integer(), sa.ForeignKey("agreement_terms.id"), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), sa.ForeignKey("follow_ups.id"), nullable=False),
        sa.Column("amount", models.money.Money(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_term_payments_term_id", "term_payments", ["term_id"])
    op.create_index("ix_term_payments_follow_up_id", "term_payments", ["follow_up_id"])


def downgrade() -> None:
    op.drop_table("term_payments")
