"""The audit log's hash chain: how a row is hashed, how rows are linked, the keys and the outside anchors
(`verify`, which walks the log's tables, lives with them in models/audit.py).

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

Each row written since migration 0019 also carries `row_mac`: an HMAC of the same canonical content
under a key derived from TIAOJIE_SECRET_KEY, which the database never holds. A row inserted by SQL
(linked by the trigger like any other) has no valid MAC. Rows older than 0019 have none: nothing can
tell a genuine old row from one forged before, so signing them would vouch for them; they stay covered
by the chain, and the first outside anchor fixes them for good. The head row keeps from which `seq` on
MACs are required (`mac_from`), and every anchor repeats it.

The anchor in the database protects against cutting the log short only as long as the anchor row
itself is intact (its triggers refuse every change but the chain's own advance). An owner can still
rebuild log and anchor together, so `tiaojie audit anchor` (daily, flows/audit_anchor.py) and every
backup record `(count, head hash, mac_from, time)` outside the database, signed with another key
derived from the secret key; `verify` checks the log against them: a pinned row rewritten, or a log
shorter than the latest anchor, is tampering.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.settings import get_settings

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


# --- keys the database does not hold -------------------------------------------------------------


@dataclass(frozen=True)
class AuditKeys:
    row: bytes  # the MAC of each row's content
    anchor: bytes  # the signature of an anchor kept outside the database


@lru_cache(maxsize=8)
def _derive(secret: str) -> AuditKeys:
    # One secret, separate keys per use: a row MAC can never pass for an anchor signature.
    def derive(purpose: str) -> bytes:
        return hmac.new(secret.encode("utf-8"), f"tiaojie-audit-{purpose}-v1".encode(), "sha256").digest()

    return AuditKeys(row=derive("row"), anchor=derive("anchor"))


def audit_keys(secret: str | None = None) -> AuditKeys:
    """The keys derived from `secret`, by default the app's TIAOJIE_SECRET_KEY (or generated key file)."""
    if secret is None:
        secret = get_settings().effective_secret_key
    return _derive(secret)


def row_mac(values: Mapping[str, Any], key: bytes | None = None) -> str:
    """HMAC-SHA256 of a row's canonical content: what the app writes as `row_mac`."""
    return hmac.new(key if key is not None else audit_keys().row, canonical(values), "sha256").hexdigest()


# --- anchors kept outside the database -----------------------------------------------------------


class AnchorError(ValueError):
    """An anchor whose signature or content does not check out (forged or damaged)."""


@dataclass(frozen=True)
class Anchor:
    """The chain as it stood at `at`: `n` rows, the last one's hash, MACs required from `mac_from`."""

    n: int
    last_hash: str
    mac_from: int
    at: datetime
    source: str = ""  # where it was found, for messages

    def payload(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "last_hash": self.last_hash,
            "mac_from": self.mac_from,
            "at": self.at.astimezone(UTC).isoformat(),
        }

    def signed(self, key: bytes | None = None) -> dict[str, Any]:
        """The anchor as JSON-ready data with its signature (`mac`)."""
        payload = self.payload()
        return {**payload, "mac": _anchor_mac(payload, key)}

    def when(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _anchor_mac(payload: Mapping[str, Any], key: bytes | None) -> str:
    body = json.dumps(dict(payload), sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key if key is not None else audit_keys().anchor, body, "sha256").hexdigest()


def load_anchor(data: Any, *, source: str, key: bytes | None = None) -> Anchor:
    """An anchor read from outside, its signature checked; AnchorError when it does not check out."""
    try:
        anchor = Anchor(
            n=int(data["n"]),
            last_hash=str(data["last_hash"]),
            mac_from=int(data["mac_from"]),
            at=datetime.fromisoformat(str(data["at"])),
            source=source,
        )
        mac = str(data["mac"])
    except (KeyError, TypeError, ValueError):
        raise AnchorError(f"外部锚点 {source} 格式不对") from None
    expected = _anchor_mac(anchor.payload(), key) if anchor.at.tzinfo is not None else ""
    if not hmac.compare_digest(mac.encode("utf-8"), expected.encode("ascii")):
        raise AnchorError(f"外部锚点 {source} 的签名无效（不是用本系统密钥写的，或已被改动）")
    return anchor


# --- PostgreSQL: the role the app connects as -----------------------------------------------------

# Written only through the triggers, read by the app and by `audit verify`.
_AUDIT_TABLES = ("audit_events", "audit_chain_head")


def _quote(conn, name: str) -> str:
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
