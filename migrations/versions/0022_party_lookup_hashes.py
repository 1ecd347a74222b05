"""Parties are found by keyed hashes of their ID number and phone, not by a plain index of them.

- `parties.id_number_hash`, `parties.phone_hash`: HMAC-SHA256 (models/party_lookup.py) under a key
  derived from TIAOJIE_SECRET_KEY, each indexed for the search box's equality lookup.
- The plain indexes `ix_parties_id_number` and `ix_parties_phone` are dropped: an index is a sorted copy
  of every ID number, handy to anyone reading the database files; the hashes serve every lookup now.
- Existing rows are back-filled here. Migrations run in the app's own process (`tiaojie init`, `tiaojie
  serve`, migrations/env.py), with the app's settings, so the key is the one the app will use. Whoever
  runs them with another key, or changes the key later, runs `tiaojie parties rehash`.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

from models.party_lookup import rehash_all

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("parties") as batch_op:
        batch_op.add_column(sa.Column("id_number_hash", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("phone_hash", sa.String(64), nullable=True))
        batch_op.drop_index("ix_parties_id_number")
        batch_op.drop_index("ix_parties_phone")
    rehash_all(op.get_bind())
    with op.batch_alter_table("parties") as batch_op:
        batch_op.create_index("ix_parties_id_number_hash", ["id_number_hash"])
        batch_op.create_index("ix_parties_phone_hash", ["phone_hash"])


def downgrade() -> None:
    with op.batch_alter_table("parties") as batch_op:
        batch_op.drop_index("ix_parties_phone_hash")
        batch_op.drop_index("ix_parties_id_number_hash")
        batch_op.create_index("ix_parties_phone", ["phone"])
        batch_op.create_index("ix_parties_id_number", ["id_number"])
        batch_op.drop_column("phone_hash")
        batch_op.drop_column("id_number_hash")
