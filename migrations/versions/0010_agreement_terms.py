"""Agreement terms name their obligee, and how and where each is performed when it differs from the
agreement's; the agreement records whether it touches 确权 or 身份关系 (民诉解释 第355条) and who drafted
it; experts say whether they are appointed 人民调解员 of the committee (人民调解法 第13、19条).

Revision ID: 0010
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreement_terms", schema=None) as batch_op:
        # Terms recorded before have no obligee: NULL, printed as they were.
        batch_op.add_column(sa.Column("obligee", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column("method", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("place", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rights_confirmation", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("status_relation", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("drafted_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_agreements_drafted_by", "users", ["drafted_by"], ["id"])
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("appointed_mediator", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The bank's 调解员 are the committee's own mediators; judges, lawyers, officials and 乡贤 are not,
    # until an administrator says otherwise.
    op.execute("UPDATE experts SET appointed_mediator = TRUE WHERE kind = 'mediator'")


def downgrade() -> None:
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.drop_column("appointed_mediator")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_constraint("fk_agreements_drafted_by", type_="foreignkey")
        batch_op.drop_column("drafted_by")
        batch_op.drop_column("status_relation")
        batch_op.drop_column("rights_confirmation")
    with op.batch_alter_table("agreement_terms", schema=None) as batch_op:
        batch_op.drop_column("place")
        batch_op.drop_column("method")
        batch_op.drop_column("obligee")
