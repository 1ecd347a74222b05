"""The case guards itself: lawyer-disapproval override, closing kinds, the end of a 督办 (issue 18 point 1).

- `legal_opinions.agreement_revision`: the draft an opinion was given on, so signing is refused while
  the latest opinion on the CURRENT draft disapproves (an opinion on an earlier draft does not bind).
- `agreements.override_reason`, `override_by`, `override_at`, `override_opinion_id`: an agreement signed
  over that disapproval says who decided, when, why and over which opinion (shown on the case page).
- The new closing kinds (部分履行, 转司法确认, 申请支付令, 转诉讼, 转仲裁) fit the existing
  `close_kind` columns (20 characters); the 督办's end is an `escalation_events` row as before.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

import models.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("legal_opinions") as batch_op:
        batch_op.add_column(sa.Column("agreement_revision", sa.Integer(), nullable=True))
    with op.batch_alter_table("agreements") as batch_op:
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("override_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("override_at", models.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("override_opinion_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_agreements_override_by", "users", ["override_by"], ["id"])
        batch_op.create_foreign_key(
            "fk_agreements_override_opinion_id", "legal_opinions", ["override_opinion_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("agreements") as batch_op:
        batch_op.drop_constraint("fk_agreements_override_opinion_id", type_="foreignkey")
        batch_op.drop_constraint("fk_agreements_override_by", type_="foreignkey")
        batch_op.drop_column("override_opinion_id")
        batch_op.drop_column("override_at")
        batch_op.drop_column("override_by")
        batch_op.drop_column("override_reason")
    with op.batch_alter_table("legal_opinions") as batch_op:
        batch_op.drop_column("agreement_revision")
