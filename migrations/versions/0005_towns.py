"""The town dictionary (镇街/村社字典); existing free-text towns mapped onto it.

A fresh database gets an empty dictionary (any town is accepted until the admin loads one). An existing
installation of the 瑞安 center (its cases numbered under center code RA, the default) gets 瑞安市's
街道, 镇 and 乡 without villages, and the towns already stored on cases, experts and users are mapped
onto it where that is unambiguous (“玉海” → “玉海街道”, “瑞安市东山街道” → “东山街道”); the others are left
as they were and reported in the migration's log. Replacing the dictionary later maps again
(flows/towns.py). The logic is copied here, not imported, so this revision does the same thing forever.

Revision ID: 0005
Revises: 0003
"""

import logging
import re
import unicodedata

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

RUIAN_TOWNS = [
    "安阳街道",
    "玉海街道",
    "锦湖街道",
    "东山街道",
    "上望街道",
    "莘塍街道",
    "汀田街道",
    "飞云街道",
    "仙降街道",
    "南滨街道",
    "潘岱街道",
    "云周街道",
    "塘下镇",
    "马屿镇",
    "陶山镇",
    "湖岭镇",
    "高楼镇",
    "曹村镇",
    "平阳坑镇",
    "芳庄乡",
    "北麂乡",
]
REGION_PREFIXES = ("浙江省", "浙江", "温州市", "温州", "瑞安市", "瑞安")


def _normalise(value: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))


def _map(stored: str, choices: list[str]) -> str | None:
    clean = _normalise(stored)
    if clean in choices:
        return clean
    core = clean
    for prefix in REGION_PREFIXES:
        if core.startswith(prefix) and len(core) > len(prefix):
            core = core[len(prefix) :]
            break
    if core in choices:
        return core
    if len(core) < 2:
        return None
    found = [c for c in choices if core in c or c in core]
    return found[0] if len(found) == 1 else None


def upgrade() -> None:
    towns = op.create_table(
        "towns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("villages", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    bind = op.get_bind()
    centers = {c for (c,) in bind.execute(sa.text("SELECT DISTINCT center_code FROM cases"))}
    if centers != {"RA"}:
        return  # a fresh install, or another center: the admin loads the dictionary
    op.bulk_insert(towns, [{"name": n, "position": i, "villages": []} for i, n in enumerate(RUIAN_TOWNS)])

    mapped: dict[str, str] = {}
    unknown: dict[str, int] = {}

    def decide(stored: str, count: int) -> str | None:
        target = _map(stored, RUIAN_TOWNS)
        if target is None:
            unknown[stored] = unknown.get(stored, 0) + count
            return None
        if target != stored:
            mapped[stored] = target
            return target
        return None

    for table in ("cases", "users"):
        rows = bind.execute(
            sa.text(f"SELECT town, COUNT(*) FROM {table} WHERE town IS NOT NULL GROUP BY town")
        ).all()
        for stored, count in rows:
            target = decide(stored, count)
            if target is not None:
                bind.execute(
                    sa.text(f"UPDATE {table} SET town = :new WHERE town = :old"),
                    {"new": target, "old": stored},
                )
    experts = sa.table("experts", sa.column("id", sa.Integer()), sa.column("towns", sa.JSON()))
    for expert_id, served in bind.execute(sa.select(experts.c.id, experts.c.towns)).all():
        if not served:
            continue
        new: dict[str, None] = {}
        for stored in served:
            new.setdefault(decide(stored, 1) or stored, None)
        if list(new) != list(served):
            bind.execute(experts.update().where(experts.c.id == expert_id).values(towns=list(new)))
    for old, new_name in mapped.items():
        log.info("镇街字典：“%s”已对应为“%s”", old, new_name)
    for name, count in unknown.items():
        log.warning("镇街字典：“%s”（%d处）不在字典中，未改动；请管理员在“镇街字典”中补充或更正", name, count)


def downgrade() -> None:
    op.drop_table("towns")
