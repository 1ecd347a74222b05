"""Dashboard rollups (issue 13): counters kept by triggers on `cases` in the same transaction as the change
(models/rollups.py says what and why), two partial indexes for the parts that depend on `now`, and the
counters filled from the existing cases.

The triggers are generated from the rules in models/ (open stages, mediated outcomes); a migration that
changes such a rule, or that copies the `cases` table on SQLite (batch mode drops its triggers), must
call `install_triggers` and `rebuild` again.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from models.case import OPEN_STAGES_SQL
from models.rollups import OVERDUE_WATCH_SQL, drop_triggers, install_triggers, rebuild

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_case_state",
        sa.Column("town", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("n_mass", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("town", "category", "stage", "escalation_level"),
    )
    op.create_table(
        "rollup_intake_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("town", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("n_open", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "town"),
    )
    op.create_table(
        "rollup_closed_weeks",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("town", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week", "town", "outcome"),
    )
    op.create_table(
        "rollup_close_days",
        sa.Column("town", sa.String(length=64), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("days_to_close", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("town", "week", "days_to_close"),
    )
    op.create_index(
        "ix_cases_overdue_watch",
        "cases",
        ["stage_due_at", "town", "category", "created_at"],
        postgresql_where=sa.text(OVERDUE_WATCH_SQL),
        sqlite_where=sa.text(OVERDUE_WATCH_SQL),
    )
    op.create_index(
        "ix_cases_open_created",
        "cases",
        ["created_at", "town"],
        postgresql_where=sa.text(OPEN_STAGES_SQL),
        sqlite_where=sa.text(OPEN_STAGES_SQL),
    )
    bind = op.get_bind()
    install_triggers(bind)
    rebuild(bind)


def downgrade() -> None:
    drop_triggers(op.get_bind())
    op.drop_index("ix_cases_open_created", table_name="cases")
    op.drop_index("ix_cases_overdue_watch", table_name="cases")
    for table in ("rollup_close_days", "rollup_closed_weeks", "rollup_intake_days", "rollup_case_state"):
        op.drop_table(table)
