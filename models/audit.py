"""Append-only, hash-chained audit log of every change (who, when, what, before/after).

The database refuses UPDATE and DELETE on this table (triggers in migration 0002), and TRUNCATE and
INSERT OR REPLACE too (migration 0008), and links every row into a hash chain (models/audit_chain.py).
Every row also carries a MAC under a key the database does not hold (migration 0019), so a row
inserted by SQL is told apart. `tiaojie audit verify` checks the chain, the MACs and the outside
anchors."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, String, event, insert
from sqlalchemy.pool import Pool
from sqlmodel import Field, Session, SQLModel

from models.audit_chain import CHAINED_FIELDS, link_digest, row_digest, row_mac
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
