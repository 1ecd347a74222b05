"""Finding a party by a full ID number or phone number without a plain index of either.

Each party row keeps, beside the number itself, a keyed hash of it (HMAC-SHA256 under a key derived from
TIAOJIE_SECRET_KEY, as models/audit_chain.py derives its keys): the search box and the related-case check
look the hash up by an indexed equality, and no index orders the numbers themselves (migration 0022 drops
the two that did). Someone holding a copy of the database but not the key cannot test guessed ID numbers
or phone numbers against the hashes; a partial number finds nothing, since only whole numbers are hashed.

The hashes are set whenever a party is written through the ORM (intake, party edits, demo data,
imports: a mapper event below), and for rows already there by migration 0022, which runs in the app's
own process (`tiaojie init`, `tiaojie serve`) with the app's settings and so with the same key. After
the secret key changes, `tiaojie parties rehash` recomputes them.
"""

from __future__ import annotations

import contextlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from models.settings import get_settings
from models.validation import ValidationError, mask_id_number, mask_phone, validate_mobile


@dataclass(frozen=True)
class Hashed:
    """A number field of a party and the column holding its keyed hash."""

    field: str
    column: str
    kind: str  # "id_number" | "phone": how the value is normalised, and which query it answers


# Every number a party row holds that the search box finds. A new one (an agent's ID or phone) is one
# line here and a column in a migration.
HASHED_FIELDS: tuple[Hashed, ...] = (
    Hashed("id_number", "id_number_hash", "id_number"),
    Hashed("phone", "phone_hash", "phone"),
)

KIND_LABELS = {"id_number": "身份证号", "phone": "联系电话"}

_ID_NUMBER = re.compile(r"\d{17}[\dX]")


@lru_cache(maxsize=8)
def _derive(secret: str) -> bytes:
    # Its own purpose string: a lookup hash can never pass for an audit MAC or an anchor signature.
    return hmac.new(secret.encode("utf-8"), b"tiaojie-party-lookup-v1", "sha256").digest()


def lookup_key(secret: str | None = None) -> bytes:
    """The key derived from `secret`, by default the app's TIAOJIE_SECRET_KEY (or generated key file)."""
    return _derive(secret if secret is not None else get_settings().effective_secret_key)


def normalize(kind: str, value: str | None) -> str | None:
    """The form a number is hashed in, so that "0577-65812345" and "057765812345", or an ID number's
    final x and X, hash alike. None when there is nothing to hash."""
    if not value:
        return None
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).upper()
    if kind == "phone":
        # "+86 138…" and "138…" alike; what is no valid number is hashed as its digits.
        with contextlib.suppress(ValidationError):
            compact = validate_mobile(compact)
        compact = re.sub(r"\D", "", compact)
    return compact or None


def digest(kind: str, value: str | None, key: bytes | None = None) -> str | None:
    """The keyed hash of a number of this kind (None for none)."""
    normal = normalize(kind, value)
    if normal is None:
        return None
    message = f"{kind}:{normal}".encode()
    return hmac.new(key if key is not None else lookup_key(), message, "sha256").hexdigest()


def row_hashes(values: Any, key: bytes | None = None) -> dict[str, str | None]:
    """Column → hash for a party (an object or a row mapping with the number fields)."""
    get = values.get if isinstance(values, dict) else lambda name: getattr(values, name, None)
    return {h.column: digest(h.kind, get(h.field), key) for h in HASHED_FIELDS}


def hash_default(column: str) -> Callable[[Any], str | None]:
    """A column default computing `column` from the number in the same INSERT's parameters."""
    (hashed,) = (h for h in HASHED_FIELDS if h.column == column)

    def default(context: Any) -> str | None:
        return digest(hashed.kind, context.get_current_parameters().get(hashed.field))

    return default


def query_kind(q: str) -> tuple[str, str] | None:
    """("id_number" | "phone", the normalised number) when the search text is a whole ID number or
    phone number, else None. Partial numbers are not: they are searched as text (and find no hash)."""
    compact = re.sub(r"[\s\-]+", "", unicodedata.normalize("NFKC", q)).upper()
    if _ID_NUMBER.fullmatch(compact):
        return "id_number", compact
    try:
        phone = validate_mobile(compact)
    except ValidationError:
        return None
    return "phone", re.sub(r"\D", "", phone)


def match_note(q: str) -> str | None:
    """What the case list says beside a case found by a number: "身份证号 330381********1234 匹配"."""
    found = query_kind(q)
    if found is None:
        return None
    kind, number = found
    masked = mask_id_number(number) if kind == "id_number" else mask_phone(number)
    return f"{KIND_LABELS[kind]} {masked} 匹配"


def rehash_all(connection: Connection, key: bytes | None = None, *, batch: int = 2000) -> int:
    """Recompute every party's hashes (migration 0022; `tiaojie parties rehash` after a key change).
    Reads and writes in batches by id so that a province's parties never sit in memory at once."""
    key = key if key is not None else lookup_key()
    fields = ", ".join(dict.fromkeys(h.field for h in HASHED_FIELDS))
    sets = ", ".join(f"{h.column} = :{h.column}" for h in HASHED_FIELDS)
    done, last = 0, 0
    while True:
        rows = connection.execute(
            text(f"SELECT id, {fields} FROM parties WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": batch},
        ).all()
        if not rows:
            return done
        params: Iterable[dict[str, Any]] = [{"id": r.id, **row_hashes(dict(r._mapping), key)} for r in rows]
        connection.execute(text(f"UPDATE parties SET {sets} WHERE id = :id"), list(params))
        done += len(rows)
        last = rows[-1].id
