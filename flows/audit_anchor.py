"""`tiaojie audit anchor` and its daily run: the audit chain's (count, last hash) kept outside the database.

Anyone who can rewrite the database can rewrite the log and its anchor row together; what was written
outside it before cannot be taken back that way. Each anchor is a signed JSON file in the document
archive (`documents/audit-anchors/`, 0400, never replaced; documents.storage.archive_record), and every
backup's manifest carries one too (ops/backup.py). `tiaojie audit verify` reads them all
(`archived_anchors`) and checks the log against them (models.audit.verify).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from sqlalchemy.engine import Engine

from documents.storage import archive_record, archived_records
from models.audit import ChainReport, verify
from models.audit_chain import Anchor, AnchorError, AuditKeys, load_anchor
from models.db import get_engine
from models.settings import get_settings

ANCHOR_FOLDER = "audit-anchors"


class AnchorRefused(Exception):
    """The log does not verify: anchoring it would vouch for the tampering."""


def archived_anchors(data_dir: Path) -> list[Anchor]:
    """Every anchor in the archive, signature checked; AnchorError names a forged or damaged one."""
    anchors = []
    for path in archived_records(ANCHOR_FOLDER, data_dir):
        try:
            data = json.loads(path.read_bytes())
        except ValueError:
            raise AnchorError(f"外部锚点 {path.name} 格式不对") from None
        anchors.append(load_anchor(data, source=path.name))
    return anchors


def verify_with_anchors(engine: Engine, data_dir: Path, extra: list[Anchor] | None = None) -> ChainReport:
    return verify(engine, anchors=[*archived_anchors(data_dir), *(extra or [])])


def anchor(engine: Engine, *, now: datetime, data_dir: Path | None = None) -> Anchor:
    """Verify the log (against the anchors already kept), then keep its count and last hash in the archive.

    The count and hash are those of the snapshot `verify` walked, so they always belong together."""
    data_dir = Path(data_dir or get_settings().ensure_data_dir())
    return _keep(verify_with_anchors(engine, data_dir), now, data_dir, None)


def anchor_as_restored(
    engine: Engine, backed_up: Anchor | None, *, now: datetime, data_dir: Path, keys: AuditKeys
) -> Anchor:
    """After a restore: the log is held to the backup's own anchor (not the archive's later ones, which
    name rows an older backup does not have), then anchored again, so it is the latest."""
    report = verify(engine, anchors=[backed_up] if backed_up else [], keys=keys)
    return _keep(report, now, data_dir, keys)


def _keep(report: ChainReport, now: datetime, data_dir: Path, keys: AuditKeys | None) -> Anchor:
    if not report.intact:
        raise AnchorRefused(f"未写外部锚点：{report.line()}")
    kept = Anchor(report.checked, report.head_hash, report.mac_from, now.astimezone(UTC))
    signed = kept.signed(keys.anchor if keys else None)
    body = json.dumps(signed, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    name = f"{kept.at:%Y%m%dT%H%M%S%fZ}-{kept.n}.json"
    archive_record(ANCHOR_FOLDER, name, body, data_dir)
    return Anchor(kept.n, kept.last_hash, kept.mac_from, kept.at, name)


@flow(name="tiaojie-audit-anchor")
def audit_anchor_flow(now_iso: str) -> int:
    """The daily anchor (flows/registry.py SCHEDULED): fails, and so is logged, when the log is tampered."""
    return anchor(get_engine(), now=datetime.fromisoformat(now_iso)).n
