"""Search at province scale (issue 13 item 5): two-character windows of the summary and the parties'
names, indexed (GIN), the case number's sequence indexed, and running cases by deadline.

The search box looks for Chinese words, mostly of two characters (a name, 工资, 借款). LIKE '%…%' reads
every case (0.3–0.8 s at 1,000,000 cases), and pg_trgm cannot help a two-character word (it indexes
three). `tj_bigrams(text)` is the list of every two consecutive characters; a word of two or more
characters is in a text only if all its windows are, so `tj_bigrams(summary) @> tj_bigrams(:q)` finds
the candidates from the index and the LIKE that goes with it (models/case_queries.py) checks them.
A typed case number is matched by its sequence number (`ix_cases_seq`). PostgreSQL only: SQLite
databases are a county's, small enough to read.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OPEN = "stage IN ('registered', 'accepted', 'panel_formed', 'in_mediation', 'agreed', 'follow_up')"

# COST: evaluated per row only when the planner walks rows instead of using the index; a high cost
# makes it check the cheap LIKE first.
BIGRAMS = """
CREATE OR REPLACE FUNCTION tj_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS
$$ SELECT ARRAY(SELECT substr(t, i, 2) FROM generate_series(1, length(t) - 1) AS i) $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BIGRAMS)
    op.execute("CREATE INDEX ix_cases_summary_bigrams ON cases USING gin (tj_bigrams(summary))")
    op.execute("CREATE INDEX ix_parties_name_bigrams ON parties USING gin (tj_bigrams(name))")
    op.create_index("ix_cases_seq", "cases", ["case_seq"])
    # Lists "earliest deadline first" (due soon on the workbench, the dashboard's overdue list) walk
    # this in order and stop at the page's end, instead of sorting thousands of running cases.
    op.create_index(
        "ix_cases_running_due",
        "cases",
        ["stage_due_at", "id"],
        postgresql_where=sa.text(f"{OPEN} AND stage_due_at IS NOT NULL AND clock_paused_since IS NULL"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_cases_running_due", table_name="cases")
    op.drop_index("ix_cases_seq", table_name="cases")
    op.execute("DROP INDEX ix_parties_name_bigrams")
    op.execute("DROP INDEX ix_cases_summary_bigrams")
    op.execute("DROP FUNCTION tj_bigrams(text)")
