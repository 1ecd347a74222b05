"""Outbox relay lease and heartbeat: a claimed run records who holds it and until when; a relay that dies
stops renewing, so the next relay pass reclaims the run as soon as the lease runs out.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import models.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable): no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("process_runs", sa.Column("claimed_by", sa.String(length=80), nullable=True))
    op.add_column(
        "process_runs", sa.Column("lease_until", models.db.UTCDateTime(timezone=True), nullable=True)
    )
    # The reclaim pass looks for running runs whose lease has run out.
    op.create_index("ix_process_runs_status_lease", "process_runs", ["status", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_process_runs_status_lease", table_name="process_runs")
    with op.batch_alter_table("process_runs", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
