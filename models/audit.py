"""Append-only audit log of every change (who, when, what, before/after).

The database refuses UPDATE and DELETE on this table (triggers in the migration)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Field, Session, SQLModel

from models.db import JSONType, UTCDateTime, table_of, utcnow

# Values that identify or reach a person: the log keeps that they changed, never what they are.
PERSONAL_FIELDS = frozenset(
    {"id_number", "phone", "address", "org_code", "declared_relations", "legal_representative", "agent_name"}
)


def without_personal_data(values: dict[str, Any]) -> dict[str, Any]:
    """`values` for the audit log: personal fields replaced by the word that they changed."""
    return {k: ("（已变更，内容不记录）" if k in PERSONAL_FIELDS else v) for k, v in values.items()}


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
        dict(
            actor_id=actor_id,
            actor_name=actor_name,
            action=action,
            entity=entity,
            entity_id=entity_id,
            case_id=case_id,
            before=before,
            after=after,
            at=at or utcnow(),
        ),
    )
