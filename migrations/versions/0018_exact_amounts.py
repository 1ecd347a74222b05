"""Exact money amounts on SQLite (issue 24 item 2): 元 as REAL become INTEGER 分.

SQLite keeps a NUMERIC(16, 2) value as REAL (or INTEGER when it is whole): 99999999999999.99 reads back as
99999999999999.98. From here on models.money.Money stores an amount on SQLite as an INTEGER count of 分,
which a NUMERIC column keeps as it is (text would be converted to REAL again), so the columns keep their
declared type and the tables are not copied (copying `cases` would drop its rollup triggers). Each value
becomes the 分 it read back as before: a REAL by its shortest round-tripping decimal (repr), which is the
amount written for every value of up to 15 significant digits. PostgreSQL's NUMERIC(16, 2) is exact and
stays as it is.

Revision ID: 0018
Revises: 0017
"""

from decimal import ROUND_HALF_EVEN, Decimal

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# Every money column (models.money.Money).
COLUMNS = (("cases", "amount_involved"), ("agreement_terms", "amount"))
CENT = Decimal("0.01")


def _fen(value: object) -> int:
    if isinstance(value, float):
        amount = Decimal(repr(value))
    else:
        amount = Decimal(str(value))
    return int(amount.quantize(CENT, rounding=ROUND_HALF_EVEN).scaleb(2))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, column in COLUMNS:
        rows = bind.exec_driver_sql(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL").all()
        if rows:
            bind.exec_driver_sql(
                f"UPDATE {table} SET {column} = ? WHERE id = ?", [(_fen(value), id_) for id_, value in rows]
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, column in COLUMNS:
        bind.exec_driver_sql(f"UPDATE {table} SET {column} = {column} / 100.0 WHERE {column} IS NOT NULL")
