"""Acceptance and rejection (issue 10): the 2002 规定 第22条 reason of a 不予受理, and the respondent's
answer to the 征询 whether it agrees to mediation (人民调解法 第17条).

Revision ID: 0009
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import models.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rejection_reason_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("respondent_agrees", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("respondent_answered_at", models.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("respondent_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("respondent_note")
        batch_op.drop_column("respondent_answered_at")
        batch_op.drop_column("respondent_agrees")
        batch_op.drop_column("rejection_reason_code")
