"""Committees: the dictionary the admin keeps, a case's committee (issue 19 point 2).

Revision ID: 0025
Revises: 0024
"""

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
