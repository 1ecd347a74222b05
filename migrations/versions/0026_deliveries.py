"""Notices and their delivery records (issue 19 points 3 and 4).

Revision ID: 0026
Revises: 0025
"""

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
