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
from collections.abc import Mapping, Sequence
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
    from sqlalchemy import select

    from models.audit import AuditChainHead, AuditEvent

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
