"""The party's own page (一案一码): ratings, remote signatures and their one-time codes, and a party's
request for paper delivery.

Revision ID: 0032
Revises: 0031
"""

import sqlalchemy as sa
from alembic import op

import models.db

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_ratings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("party_id", sa.Integer(), sa.ForeignKey("parties.id"), nullable=False, unique=True),
        sa.Column("rating", sa.String(1), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_at", models.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "signature_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("party_id", sa.Integer(), sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("code_hash", sa.String(100), nullable=False),
        sa.Column("expires_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("used_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "remote_signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("agreement_id", sa.Integer(), sa.ForeignKey("agreements.id"), nullable=False, index=True),
        sa.Column("agreement_revision", sa.Integer(), nullable=False),
        sa.Column("agreement_sha256", sa.String(64), nullable=False),
        sa.Column("party_id", sa.Integer(), sa.ForeignKey("parties.id"), nullable=True),
        sa.Column("expert_id", sa.Integer(), sa.ForeignKey("experts.id"), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("signer_name", sa.String(120), nullable=False),
        sa.Column("image_png", sa.LargeBinary(), nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("signed_at", models.db.UTCDateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("paper_requested_at", models.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("paper_requested_at")
    op.drop_table("remote_signatures")
    op.drop_table("signature_codes")
    op.drop_table("portal_ratings")
