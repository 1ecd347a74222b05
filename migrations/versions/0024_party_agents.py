"""Who is bound: agents, legal representatives, elected representatives (issue 18 point 2).

- `parties.legal_representative_title`: the 法定代表人's title (总经理, 董事长), printed with the name.
- `parties.agent_phone`, `parties.agent_id_number`: the 委托代理人's contact and ID number (personal data:
  masked on pages and in JSON like the party's own; not indexed).
- `parties.agent_special_authority`: the agent holds 特别授权 (may agree to terms and bind the party).
- `parties.represented_by`: the name of the elected representative (a party with is_representative) who
  acts for this member of a group.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("parties") as batch_op:
        batch_op.add_column(sa.Column("legal_representative_title", sa.String(60), nullable=True))
        batch_op.add_column(sa.Column("agent_phone", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("agent_id_number", sa.String(18), nullable=True))
        batch_op.add_column(
            sa.Column("agent_special_authority", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("represented_by", sa.String(120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parties") as batch_op:
        batch_op.drop_column("represented_by")
        batch_op.drop_column("agent_special_authority")
        batch_op.drop_column("agent_id_number")
        batch_op.drop_column("agent_phone")
        batch_op.drop_column("legal_representative_title")
