"""Indexes for the pages at province scale (issue 13 item 5, measured by `bench.run pages`).

At 1,000,000 cases on PostgreSQL the workbench read every row twice: "my open cases" (created_by with
the open stages; counted and listed by deadline) and the flagged list (`flagged IS true`, counted and
listed newest first) had no index and were sequential scans (0.6–0.8 s each), and the overdue list
(newest first) walked the primary key through closed cases. Partial indexes, small because they hold
only open or flagged cases. PostgreSQL only: SQLite databases are
small, and a partial index on SQLite is used only when the query repeats its WHERE term literally.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

OPEN = "stage IN ('registered', 'accepted', 'panel_formed', 'in_mediation', 'agreed', 'follow_up')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        "ix_cases_mine_open", "cases", ["created_by", "stage_due_at"], postgresql_where=sa.text(OPEN)
    )
    op.create_index("ix_cases_flagged", "cases", ["id"], postgresql_where=sa.text("flagged IS true"))
    # The overdue list, newest first: walked backwards by id, the deadline checked in the index.
    op.create_index(
        "ix_cases_running_by_id",
        "cases",
        ["id", "stage_due_at"],
        postgresql_where=sa.text(f"{OPEN} AND stage_due_at IS NOT NULL AND clock_paused_since IS NULL"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_cases_running_by_id", table_name="cases")
    op.drop_index("ix_cases_flagged", table_name="cases")
    op.drop_index("ix_cases_mine_open", table_name="cases")
