"""The 督办 loop: an escalation's status, 签收, the latest 批示's reply deadline, and its history.

Existing escalations: those already resolved are `resolved` (the old rule resolved them when the case
moved on, so their stage was left too); the others start `assigned`.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="assigned",
            )
        )
        batch_op.add_column(sa.Column("acknowledged_at", models.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reply_by", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("reply_climbed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("stage_left_at", models.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_escalations_acknowledged_by_users", "users", ["acknowledged_by"], ["id"]
        )
    op.execute(
        "UPDATE escalations SET status = 'resolved', stage_left_at = resolved_at"
        " WHERE resolved_at IS NOT NULL"
    )
    op.create_table(
        "escalation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("reply_by", sa.Date(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("escalation_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_escalation_events_escalation_id"), ["escalation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("escalation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_events_escalation_id"))
    op.drop_table("escalation_events")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_escalations_acknowledged_by_users", type_="foreignkey")
        batch_op.drop_column("stage_left_at")
        batch_op.drop_column("reply_climbed_on")
        batch_op.drop_column("reply_by")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("status")
