"""The case guards itself: lawyer-disapproval override, closing kinds, the end of a 督办 (issue 18 point 1).

Revision ID: 0023
Revises: 0022
"""

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
