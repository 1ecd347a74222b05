"""Committees: the dictionary the admin keeps, a case's committee (issue 19 point 2).

- `committees`: the mediation committees the center hosts (name, kind, the categories each takes, an
  optional number-series prefix for its documents, active); the center's own 人民调解委员会 (`is_center`)
  is seeded here from the installation's `committee_name` and is always present.
- `committee_case_numbers`: a case's number in its committee's own series, taken once.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from datetime import UTC, datetime

    from models.settings import get_settings

    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":  # as models.db.UTCDateTime stores it there
        now = now.replace(tzinfo=None)

    committees = op.create_table(
        "committees",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=True),
        sa.Column("number_prefix", sa.String(8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("is_center", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "committee_case_numbers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("committee_id", sa.Integer(), sa.ForeignKey("committees.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("doc_no", sa.String(40), nullable=False),
        sa.UniqueConstraint("committee_id", "case_id"),
    )
    op.create_index("ix_committee_case_numbers_committee_id", "committee_case_numbers", ["committee_id"])
    op.create_index("ix_committee_case_numbers_case_id", "committee_case_numbers", ["case_id"])
    # The committee whose name the documents carried until now: the default, always present.
    op.bulk_insert(
        committees,
        [
            {
                "name": get_settings().committee_name,
                "kind": "people",
                "categories": [],
                "number_prefix": None,
                "active": True,
                "is_center": True,
                "updated_at": now,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("committee_case_numbers")
    op.drop_table("committees")
