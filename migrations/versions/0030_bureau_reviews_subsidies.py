"""The justice bureau's side (issue 22 points 2–5): 评查 samples, reviews and findings; 以案定补 subsidies;
the center's rules as text; the parties' satisfaction at a 回访.

`review_samples` (one draw: period, ratio, seed, population, scope), `reviews` (one sampled case: scores,
total, status), `review_findings` (with the center's answer); `subsidies` (one per case: grade, amount,
approvals); `center_texts` (the county's 以案定补 rules); `follow_ups.satisfaction` ("1"–"4").
The `reviewer` role needs no schema change (`users.role` is text).

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

import models.db
import models.money

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, models.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "review_samples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("ratio", sa.String(12), nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("scope_town", sa.String(64), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        _at("created_at"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sample_id", sa.Integer(), sa.ForeignKey("review_samples.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("pass_mark", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("scored_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        _at("scored_at", nullable=True),
        sa.UniqueConstraint("sample_id", "case_id", name="uq_review_sample_case"),
    )
    op.create_index("ix_reviews_sample_id", "reviews", ["sample_id"])
    op.create_index("ix_reviews_case_id", "reviews", ["case_id"])
    op.create_table(
        "review_findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _at("created_at"),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        _at("answered_at", nullable=True),
    )
    op.create_index("ix_review_findings_review_id", "review_findings", ["review_id"])
    op.create_index("ix_review_findings_case_id", "review_findings", ["case_id"])
    op.create_table(
        "subsidies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, unique=True),
        sa.Column("expert_id", sa.Integer(), sa.ForeignKey("experts.id"), nullable=True),
        sa.Column("mediator", sa.String(120), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("proposed_grade", sa.String(16), nullable=False),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("amount", models.money.Money(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("approvals", sa.JSON(), nullable=False),
        sa.Column("graded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        _at("graded_at"),
    )
    op.create_index("ix_subsidies_expert_id", "subsidies", ["expert_id"])
    op.create_index("ix_subsidies_month", "subsidies", ["month"])
    op.create_table(
        "center_texts",
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        _at("updated_at"),
        sa.Column("updated_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )
    with op.batch_alter_table("follow_ups") as batch_op:
        batch_op.add_column(sa.Column("satisfaction", sa.String(1), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("follow_ups") as batch_op:
        batch_op.drop_column("satisfaction")
    for table in ("center_texts", "subsidies", "review_findings", "reviews", "review_samples"):
        op.drop_table(table)
