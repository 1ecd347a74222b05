"""Append-only, hash-chained audit log of every change (who, when, what, before/after).

The database refuses UPDATE and DELETE on this table (triggers in migration 0002), and TRUNCATE and
INSERT OR REPLACE too (migration 0008), and links every row into a hash chain (models/audit_chain.py).
Every row also carries a MAC under a key the database does not hold (migration 0019), so a row
inserted by SQL is told apart. `verify` (`tiaojie audit verify`) checks the chain, the MACs and the
outside anchors."""

from __future__ import annotations

import hmac
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, String, event, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from sqlmodel import Field, Session, SQLModel

from models.audit_chain import (
    CHAINED_FIELDS,
    GENESIS,
    Anchor,
    AuditKeys,
    audit_keys,
    link_digest,
    row_digest,
    row_mac,
)
from models.db import JSONType, UTCDateTime, table_of, utcnow

# Values that identify or reach a person: the log keeps that they changed, never what they are.
PERSONAL_FIELDS = frozenset(
    {
        "id_number",
        "phone",
        "email",
        "address",
        "org_code",
        "declared_relations",
        "legal_representative",
        "agent_name",
        "agent_phone",
        "agent_id_number",
        "represented_by",
    }
)


def without_personal_data(values: dict[str, Any]) -> dict[str, Any]:
    """`values` for the audit log: personal fields replaced by the word that they changed."""
    return {k: ("（已变更，内容不记录）" if k in PERSONAL_FIELDS else v) for k, v in values.items()}


def _row_hash_default(context) -> str:
    # Called per row, also in an executemany; earlier columns' defaults (`at`) are already filled in.
    return row_digest(context.get_current_parameters())


def _row_mac_default(context) -> str:
    return row_mac(context.get_current_parameters())


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    actor_name: str = Field(max_length=80)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: int | None = None
    case_id: int | None = Field(default=None, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    # The row's content hash, computed here for every insert (record(), a bulk Core insert, the ORM) so
    # that the canonical form lives in Python only; the database refuses a row without it.
    row_hash: str | None = Field(
        default=None, sa_column=Column("row_hash", String(64), default=_row_hash_default, nullable=True)
    )
    # The content's HMAC under a key derived from the app's secret key (models.audit_chain.row_mac): the
    # database never holds the key, so a row inserted by SQL cannot carry a valid one.
    row_mac: str | None = Field(
        default=None, sa_column=Column("row_mac", String(64), default=_row_mac_default, nullable=True)
    )
    # Set by the database's chain trigger, never by the caller (an INSERT that sets them is refused).
    seq: int | None = Field(default=None, sa_column=Column("seq", BigInteger, unique=True, nullable=True))
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The anchor of the chain: how many rows it has and its last hash (one row, kept by the trigger)."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    n: int = Field(default=0, sa_type=BigInteger)
    last_hash: str = Field(max_length=64)
    # The first `seq` that must carry a row MAC (rows before migration 0019 have none); never changes.
    mac_from: int = Field(default=1, sa_type=BigInteger)


@event.listens_for(AuditEvent, "before_insert")
def _row_hash_on_orm_insert(_mapper, _connection, target: AuditEvent) -> None:
    # The ORM sends the attribute's None explicitly, which would skip the column default.
    content = {name: getattr(target, name) for name in CHAINED_FIELDS}
    if target.row_hash is None:
        target.row_hash = row_digest(content)
    if target.row_mac is None:
        target.row_mac = row_mac(content)


@event.listens_for(Pool, "connect")
def _register_chain_hash(dbapi_conn, _record) -> None:
    # SQLite has no SHA-256: its chain trigger calls this (the same function PostgreSQL computes in SQL).
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.create_function("tiaojie_chain_hash", 2, link_digest, deterministic=True)


def record(
    session: Session,
    *,
    actor_id: int | None,
    actor_name: str,
    action: str,
    entity: str,
    entity_id: int | None,
    case_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    # A plain INSERT: audit rows are never read back in the same unit of work, and the ORM's
    # bookkeeping would cost every action a flush.
    session.execute(
        insert(table_of(AuditEvent)),
        audit_row(
            actor_id=actor_id,
            actor_name=actor_name,
            action=action,
            entity=entity,
            entity_id=entity_id,
            case_id=case_id,
            before=before,
            after=after,
            at=at,
        ),
    )


def audit_row(
    *,
    actor_id: int | None,
    actor_name: str,
    action: str,
    entity: str,
    entity_id: int | None,
    case_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one audit row, `row_hash` and `row_mac` included: for a caller that writes the row
    within a larger statement (intake sends case, parties, audit and outbox rows in one round trip),
    where column defaults are not applied. The chain fields stay the database's."""
    values: dict[str, Any] = dict(
        at=at or utcnow(),
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        entity=entity,
        entity_id=entity_id,
        case_id=case_id,
        before=before,
        after=after,
    )
    values["row_hash"] = row_digest(values)
    values["row_mac"] = row_mac(values)
    return values


# --- checking the log ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    checked: int
    head_hash: str
    broken_id: int | None = None
    broken_seq: int | None = None
    reason: str = ""
    mac_from: int = 1
    anchor: Anchor | None = None  # the latest outside anchor the log was checked against

    def line(self) -> str:
        if not self.intact:
            return f"审计日志被篡改：{self.reason}"
        line = f"审计日志完整：共 {self.checked} 条记录，链尾哈希 {self.head_hash}"
        if self.anchor is None:
            return f"{line}（未找到外部锚点，无法发现整表重建：请运行 tiaojie audit anchor）"
        return f"{line}，与外部锚点（{self.anchor.when()}，{self.anchor.n} 条）相符"


def verify(
    engine: Engine, *, anchors: Sequence[Anchor] = (), keys: AuditKeys | None = None, batch: int = 5000
) -> ChainReport:
    """Walk the chain in `seq` order and check every link, every row's content and MAC, the anchor row,
    and `anchors` found outside the database (already signature-checked: `load_anchor`).

    Every outside anchor the log reaches must match the row it pins; the latest one must not be longer
    than the log (a log cut short or rebuilt). Reports the first broken row; an intact log reports its
    row count and head hash."""
    row_key = (keys or audit_keys()).row
    latest = max(anchors, key=lambda a: (a.at, a.n), default=None)
    pinned: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        pinned.setdefault(anchor.n, []).append(anchor)
    ev = AuditEvent.__table__  # type: ignore[attr-defined]
    head_table = AuditChainHead.__table__  # type: ignore[attr-defined]
    cols = [ev.c[name] for name in CHAINED_FIELDS]
    with engine.connect() as conn:
        # One snapshot for the whole walk on PostgreSQL (rows committed meanwhile are not half-seen).
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        head = conn.execute(
            select(head_table.c.n, head_table.c.last_hash, head_table.c.mac_from).where(head_table.c.id == 1)
        ).first()
        anchor_n, anchor_hash, mac_from = (
            (int(head.n), head.last_hash, int(head.mac_from)) if head is not None else (0, GENESIS, 1)
        )

        def broken(checked: int, row_id: int | None, seq: int | None, reason: str) -> ChainReport:
            return ChainReport(False, checked, anchor_hash, row_id, seq, reason, mac_from, latest)

        if latest is not None and latest.mac_from != mac_from:
            return broken(
                0,
                None,
                None,
                f"签名起点被改动：外部锚点（{latest.when()}）记为序号 {latest.mac_from}，库中为 {mac_from}",
            )
        for anchor in pinned.get(0, []):
            if anchor.last_hash != GENESIS:
                return broken(0, None, 0, f"外部锚点（{anchor.when()}）记有 0 条，链尾哈希却不是起始值")

        unlinked = conn.execute(select(ev.c.id).where(ev.c.seq.is_(None)).order_by(ev.c.id).limit(1)).first()
        if unlinked is not None:
            return broken(0, unlinked.id, None, f"记录 id={unlinked.id} 不在链中（写入时绕过了链接触发器）")

        expected_seq, prev = 1, GENESIS
        last_seq = 0
        while True:
            rows = conn.execute(
                select(ev.c.id, ev.c.seq, ev.c.prev_hash, ev.c.hash, ev.c.row_hash, ev.c.row_mac, *cols)
                .where(ev.c.seq > last_seq)
                .order_by(ev.c.seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                where = f"记录 id={row.id}（序号 {row.seq}）"
                done = expected_seq - 1
                if row.seq != expected_seq:
                    return broken(
                        done,
                        row.id,
                        expected_seq,
                        f"序号 {expected_seq} 的记录缺失（在{where}之前）：有记录被删除或替换",
                    )
                if row.prev_hash != prev:
                    return broken(done, row.id, row.seq, f"{where}的前一哈希与链不符")
                if row_digest(dict(row._mapping)) != row.row_hash:
                    return broken(done, row.id, row.seq, f"{where}的内容已被修改")
                if link_digest(prev, row.row_hash) != row.hash:
                    return broken(done, row.id, row.seq, f"{where}的链哈希不符")
                if row.seq >= mac_from and not (
                    row.row_mac is not None
                    and hmac.compare_digest(
                        row.row_mac.encode(), row_mac(dict(row._mapping), row_key).encode()
                    )
                ):
                    return broken(
                        done, row.id, row.seq, f"{where}的签名不符：不是本系统写入的（伪造或以 SQL 插入）"
                    )
                for anchor in pinned.get(row.seq, []):
                    if anchor.last_hash != row.hash:
                        return broken(
                            done,
                            row.id,
                            row.seq,
                            f"{where}与外部锚点（{anchor.when()}）记下的链尾哈希不符：日志被改写或重建",
                        )
                prev = row.hash
                expected_seq += 1
            last_seq = rows[-1].seq
        count = expected_seq - 1
        if latest is not None and latest.n > count:
            return broken(
                count,
                None,
                count + 1,
                f"链尾缺失：外部锚点（{latest.when()}）记有 {latest.n} 条，"
                f"库中只有 {count} 条（日志被截短或重建）",
            )
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
            return broken(count, None, seq, reason)
        return ChainReport(True, count, prev, mac_from=mac_from, anchor=latest)
