"""The admin's action on the committee dictionary (调解组织): one function for the JSON route and the page.

Items with an id change that committee; items without one are new; a committee left out of the list is
deactivated, never deleted (the documents and numbers it issued still name it). The center's own
人民调解委员会 is always kept (models/committee.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from models.audit import record
from models.committee import Committee, CommitteesIn, check_dictionary, committees, dictionary_public
from models.user import User


def _summary(row: Committee) -> dict:
    # Names of organisations and category codes: no personal data in these values.
    return {
        "name": row.name,
        "kind": row.kind,
        "categories": list(row.categories or []),
        "number_prefix": row.number_prefix,
        "active": row.active,
    }


def replace_committees(*, session: Session, data: CommitteesIn, actor: User | None, now: datetime) -> dict:
    """Apply the admin's dictionary; answers it as GET /committees does. Refusals change nothing."""
    check_dictionary(session, data)
    existing = {c.id: c for c in committees(session)}
    before = {str(i): _summary(c) for i, c in existing.items()}
    listed: set[int] = set()
    changes: list[tuple[Committee, dict[str, object]]] = []
    for item in data.items:
        if item.id is None:
            continue
        row = existing[item.id]
        listed.add(item.id)
        values: dict[str, object] = {
            "name": item.name,
            "kind": item.kind.value,
            "categories": [c.value for c in item.categories],
            "number_prefix": item.number_prefix,
            "active": item.active,
        }
        if _summary(row) != values:
            changes.append((row, values))
    # Names and prefixes are unique: two committees swapping theirs would clash midway, so the
    # changed rows first let go of them, then take their new ones; new committees come last.
    for row, _values in changes:
        row.name = f"（改名中）{row.id}"
        row.number_prefix = None
    session.flush()
    for row, values in changes:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
    session.flush()
    for item in data.items:
        if item.id is None:
            session.add(
                Committee(
                    name=item.name,
                    kind=item.kind.value,
                    categories=[c.value for c in item.categories],
                    number_prefix=item.number_prefix,
                    active=item.active,
                    updated_at=now,
                )
            )
    for committee_id, row in existing.items():
        if committee_id not in listed and not row.is_center and row.active:
            row.active = False
            row.updated_at = now
    session.flush()
    after = {str(c.id): _summary(c) for c in committees(session)}
    record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "cli",
        action="committees.replace",
        entity="committee",
        entity_id=None,
        before={"committees": before},
        after={"committees": after},
        at=now,
    )
    return dictionary_public(session)
