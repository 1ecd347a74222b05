"""Working-day clock pauses counted in working days (issue 19 point 1).

`cases.clock_paused_workdays`: the working days a working-day clock (医疗纠纷预防和处理条例 第38条, the
appraisal) stood still; `clock_paused_days` keeps the calendar days of calendar-day clocks, so a medical
case paused before this revision keeps the days it was given then. `clock_events.effective_on`: the date the
pause or resume took effect (the appraisal commissioned / its opinion received), which may precede the
day it was recorded; `clock_events.due_on`: the last day the event set (printed on its notice).

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(
            sa.Column("clock_paused_workdays", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("clock_events") as batch_op:
        batch_op.add_column(sa.Column("effective_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("due_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clock_events") as batch_op:
        batch_op.drop_column("due_on")
        batch_op.drop_column("effective_on")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("clock_paused_workdays")
