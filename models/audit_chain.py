"""The audit log's hash chain: how a row is hashed, how rows are linked, and `verify`.

Each audit row carries
- `row_hash`: SHA-256 of the row's canonical content (computed in Python when the row is inserted, by
  `models.audit`, so the canonical form lives in this one module),
- `seq`, `prev_hash`, `hash`: its place in the chain, set by the database (migration 0008), never by
  the caller: `hash = sha256(prev_hash || row_hash)`, `prev_hash` being the `hash` of the row before.
The chain's head (`audit_chain_head`: how many rows, the last hash) is kept by the same trigger, so a
log emptied or cut at its end no longer matches its anchor.

On PostgreSQL rows are linked at commit (a deferred constraint trigger): the head row is locked only
while the transaction commits, so audited transactions do not queue behind each other for their whole
length, and two writers can never read the same previous hash (no fork). On SQLite (one writer at a
time) an AFTER INSERT trigger links each row at once, with `tiaojie_chain_hash` registered on every
connection (models/audit.py).

What verification proves: nothing was changed, removed, replaced or inserted behind the database's
back since the rows were written — unless whoever did it also recomputed every later hash and the
anchor. That needs the table owner's rights (the app does not have them on PostgreSQL, see
`grant_app_role`); to catch even that, keep the `(count, head hash)` that `tiaojie audit verify` prints
somewhere outside the database now and then, and compare.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

GENESIS = "0" * 64

# The content a row's hash covers, in this order. Never change it: stored hashes depend on it.
CHAINED_FIELDS = (
    "at",
    "actor_id",
    "actor_name",
    "action",
    "entity",
    "entity_id",
    "case_id",
    "before",
    "after",
)


def _json_value(value: Any) -> Any:
    # What the JSON column gives back (tuples become lists, int keys become strings), so the hash of a
    # value as written equals the hash of the same value as read.
    return None if value is None else json.loads(json.dumps(value))


def canonical(values: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an audit row's content (`values` keyed by column name)."""
    at = values.get("at")
    if isinstance(at, datetime):
        if at.tzinfo is None:  # SQLite hands naive UTC back when read without the column type
            at = at.replace(tzinfo=UTC)
        at = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    items = [
        at,
        values.get("actor_id"),
        values.get("actor_name"),
        values.get("action"),
        values.get("entity"),
        values.get("entity_id"),
        values.get("case_id"),
        _json_value(values.get("before")),
        _json_value(values.get("after")),
    ]
    return json.dumps(items, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def row_digest(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(values)).hexdigest()


def link_digest(prev_hash: str, row_hash: str) -> str:
    """The chain hash of a row; the database triggers compute exactly this."""
    return hashlib.sha256((prev_hash + row_hash).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    checked: int
    head_hash: str
    broken_id: int | None = None
    broken_seq: int | None = None
    reason: str = ""

    def line(self) -> str:
        if self.intact:
            return f"审计日志完整：共 {self.checked} 条记录，链尾哈希 {self.head_hash}"
        return f"审计日志被篡改：{self.reason}"


def verify(engine: Engine, *, batch: int = 5000) -> ChainReport:
    """Walk the chain in `seq` order and check every link, every row's content and the anchor.

    Reports the first broken row; an intact log reports its row count and head hash."""
    from sqlalchemy import select

    from models.audit import AuditChainHead, AuditEvent

    ev = AuditEvent.__table__  # type: ignore[attr-defined]
    head_table = AuditChainHead.__table__  # type: ignore[attr-defined]
    cols = [ev.c[name] for name in CHAINED_FIELDS]
    with engine.connect() as conn:
        # One snapshot for the whole walk on PostgreSQL (rows committed meanwhile are not half-seen).
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        head = conn.execute(
            select(head_table.c.n, head_table.c.last_hash).where(head_table.c.id == 1)
        ).first()
        anchor_n, anchor_hash = (int(head.n), head.last_hash) if head is not None else (0, GENESIS)

        unlinked = conn.execute(select(ev.c.id).where(ev.c.seq.is_(None)).order_by(ev.c.id).limit(1)).first()
        if unlinked is not None:
            return ChainReport(
                False,
                0,
                anchor_hash,
                unlinked.id,
                None,
                f"记录 id={unlinked.id} 不在链中（写入时绕过了链接触发器）",
            )

        expected_seq, prev = 1, GENESIS
        last_seq = 0
        while True:
            rows = conn.execute(
                select(ev.c.id, ev.c.seq, ev.c.prev_hash, ev.c.hash, ev.c.row_hash, *cols)
                .where(ev.c.seq > last_seq)
                .order_by(ev.c.seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                where = f"记录 id={row.id}（序号 {row.seq}）"
                if row.seq != expected_seq:
                    return ChainReport(
                        False,
                        expected_seq - 1,
                        anchor_hash,
                        row.id,
                        expected_seq,
                        f"序号 {expected_seq} 的记录缺失（在{where}之前）：有记录被删除或替换",
                    )
                if row.prev_hash != prev:
                    return ChainReport(
                        False, expected_seq - 1, anchor_hash, row.id, row.seq, f"{where}的前一哈希与链不符"
                    )
                if row_digest(dict(row._mapping)) != row.row_hash:
                    return ChainReport(
                        False, expected_seq - 1, anchor_hash, row.id, row.seq, f"{where}的内容已被修改"
                    )
                if link_digest(prev, row.row_hash) != row.hash:
                    return ChainReport(
                        False, expected_seq - 1, anchor_hash, row.id, row.seq, f"{where}的链哈希不符"
                    )
                prev = row.hash
                expected_seq += 1
            last_seq = rows[-1].seq
        count = expected_seq - 1
        if count != anchor_n or prev != anchor_hash:
            if count < anchor_n:
                reason = (
                    f"链尾缺失：锚点记有 {anchor_n} 条，链中只有 {count} 条"
                    f"（序号 {count + 1} 起的记录被删除或表被清空）"
                )
                seq = count + 1
            else:
                reason = f"链与锚点不符：锚点记有 {anchor_n} 条、链尾哈希 {anchor_hash}，链中有 {count} 条"
                seq = anchor_n + 1 if count > anchor_n else count
            return ChainReport(False, count, anchor_hash, None, seq, reason)
        return ChainReport(True, count, prev)


# --- PostgreSQL: the role the app connects as -----------------------------------------------------

# Written only through the triggers, read by the app and by `audit verify`.
_AUDIT_TABLES = ("audit_events", "audit_chain_head")


def _quote(conn, name: str) -> str:  # noqa: ANN001
    return conn.dialect.identifier_preparer.quote_identifier(name)


def grant_app_role(engine: Engine, role: str) -> list[str]:
    """Give the app's database role what it needs and no more (run as the owner, after migrating).

    The role reads and writes the case tables, but may only INSERT into and SELECT from the audit log
    (and only SELECT its anchor): no UPDATE, DELETE or TRUNCATE, and, not being the owner, no ALTER
    TABLE (so no disabling of the triggers). Idempotent: run again after every migration (`tiaojie init`
    does). Creates the role (LOGIN, no password: set one with ALTER ROLE, or use certificate/peer
    authentication) when it does not exist. Returns what it did, one line each."""
    if engine.dialect.name != "postgresql":
        raise ValueError("只有 PostgreSQL 需要为应用设置单独的数据库角色")
    done: list[str] = []
    with engine.begin() as conn:
        q = _quote(conn, role)
        owner = conn.execute(
            text(
                "SELECT tableowner FROM pg_tables "
                "WHERE schemaname = current_schema() AND tablename = 'audit_events'"
            )
        ).scalar_one()
        if owner == role:
            raise ValueError(f"角色 {role} 是审计表的所有者：应用必须使用另一个角色连接")
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        if exists is None:
            conn.execute(text(f"CREATE ROLE {q} LOGIN"))
            done.append(f"已创建数据库角色 {role}（LOGIN，未设密码）")
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        conn.execute(text(f"GRANT CONNECT ON DATABASE {_quote(conn, database)} TO {q}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA {_quote(conn, schema)} TO {q}"))
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
        ).scalars()
        for table in tables:
            t = _quote(conn, table)
            conn.execute(text(f"REVOKE ALL ON {t} FROM {q}"))
            if table in _AUDIT_TABLES:
                privileges = "SELECT, INSERT" if table == "audit_events" else "SELECT"
            elif table == "alembic_version":
                privileges = "SELECT"
            else:
                privileges = "SELECT, INSERT, UPDATE, DELETE"
            conn.execute(text(f"GRANT {privileges} ON {t} TO {q}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_quote(conn, schema)} TO {q}"))
        done.append(f"已授权数据库角色 {role}：审计日志只可追加（INSERT/SELECT），不可修改、删除或清空")
    return done
