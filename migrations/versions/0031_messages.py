"""Messages to parties and their consent to electronic delivery (issue 21 point 4).

- `messages`: the outbox of SMS and e-mails (status, attempts, next attempt, last error, the
  provider's message id), sent after commit with retries (flows/messages.py).
- `parties.consent_at`: when the party's consent to electronic delivery was recorded (民诉法 第90条
  by analogy); `parties.email`: where its e-mail notices go.

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

import models.db

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("to", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.String(200), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("messages") as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_party_id"), ["party_id"], unique=False)
        batch_op.create_index("ix_messages_status_next", ["status", "next_attempt_at"], unique=False)
    with op.batch_alter_table("parties") as batch_op:
        batch_op.add_column(sa.Column("consent_at", models.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parties") as batch_op:
        batch_op.drop_column("email")
        batch_op.drop_column("consent_at")
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_index("ix_messages_status_next")
        batch_op.drop_index(batch_op.f("ix_messages_party_id"))
        batch_op.drop_index(batch_op.f("ix_messages_case_id"))
    op.drop_table("messages")
