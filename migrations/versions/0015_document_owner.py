"""Who asked for a report document: no schema change.

Reserved for the access work (issue 12). None was needed: `documents.created_by` already records who
ordered a report (the API's `GET /reports/backlog` and a page job's report are issued with the
requester as actor), and `models.access.document_refusal` reads it. Kept as an empty revision so the
chain stays linear.

Revision ID: 0015
Revises: 0014
"""

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
