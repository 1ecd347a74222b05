"""`tiaojie backup` / `tiaojie restore`: the database and the document archive, together and consistent.

A backup is one gzip'd tar file:

    database/tiaojie.db        SQLite: a snapshot taken through SQLite's online backup API, or
    database/tiaojie.pgdump    PostgreSQL: `pg_dump --format=custom`
    documents/ab/cd/<sha>.pdf  every file the `documents` table of that snapshot references
    jobs/<id>-<time>.xlsx      the finished ledger exports the snapshot's `jobs` rows point to
    secret_key                 the generated key, when the data dir holds one
    manifest.json              (last) version, time, database kind, counts, sha256 of every member, and
                               the audit chain's signed anchor as of the snapshot (`audit_anchor`)

Consistency: the file list is read from the snapshot itself (SQLite: the snapshot file; PostgreSQL: the
transaction whose snapshot pg_dump is given), so a case or document written meanwhile is either wholly
in the backup or not at all. Copying the SQLite file instead loses what is still in its WAL.
A document's file is written before its row is committed and never removed, so every row of the
snapshot has its file; one that is missing or altered fails the backup.

PostgreSQL needs `pg_dump` and `pg_restore` on the PATH, of the server's major version or newer
(Debian: the `postgresql-client` package).

Restore checks the manifest and every member's sha256 before touching anything, refuses a database
that already holds cases, users, experts, documents or audit records unless forced, puts the files in
place first (0400 PDFs, 0600 exports and key) and the database last, then migrates it to this version.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import quote

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from documents.storage import PDF_MODE, PRIVATE_FILE_MODE, make_private_dirs, write_private
from models.audit_chain import Anchor, audit_keys, load_anchor
from models.settings import Settings, get_settings

FORMAT = "tiaojie-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/tiaojie.db"
POSTGRES_MEMBER = "database/tiaojie.pgdump"
SECRET_KEY_MEMBER = "secret_key"
# A database holding any of these is "not empty": restoring over it needs --force. (Towns and the
# schema version are there right after `tiaojie init`.)
CONTENT_TABLES = ("cases", "documents", "users", "experts", "audit_events")
COUNTED_TABLES = ("cases", "documents", "users", "audit_events")
_BLOCK = 1 << 20


class BackupError(Exception):
    """A one-line reason the backup or restore did not happen."""


@dataclass
class _Member:
    name: str  # inside the archive; for data-dir files, the path relative to the data dir
    source: Path
    kind: str  # database | document | export | secret_key
    mode: int
    expected_sha256: str | None = None


@dataclass
class _Snapshot:
    kind: str
    path: Path
    schema_revision: str | None
    counts: dict[str, int]
    documents: list[tuple[int, str, str]]  # id, path, sha256
    exports: list[str] = field(default_factory=list)
    audit_head: tuple[int, str, int] | None = None  # n, last_hash, mac_from of the snapshot's chain


# --- database helpers -------------------------------------------------------------------------------


def _kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"不支持备份该类数据库：{backend}")
    return backend


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份或恢复")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection string for pg_dump/pg_restore, and the environment that carries the
    password (not on the command line, where `ps` would show it)."""
    u: URL = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    netloc = quote(u.username or "", safe="")
    if u.host:
        netloc = f"{netloc}@{quote(u.host, safe='')}" if netloc else quote(u.host, safe="")
    elif netloc:
        netloc += "@"
    if u.port:
        netloc += f":{u.port}"
    conninfo = f"postgresql://{netloc}/{quote(u.database or '', safe='')}"
    query = "&".join(
        f"{quote(k, safe='')}={quote(v if isinstance(v, str) else v[-1], safe='')}"
        for k, v in u.query.items()
    )
    return (f"{conninfo}?{query}" if query else conninfo), env


def _run_pg_tool(args: list[str], env: dict[str, str], what: str) -> None:
    if shutil.which(args[0]) is None:
        raise BackupError(f"找不到 {args[0]}：PostgreSQL 的备份与恢复需要安装与服务器同版本的客户端工具")
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise BackupError(f"{what}失败：{lines[-1] if lines else f'退出码 {result.returncode}'}")


def _schema_revision(conn: Connection | sqlite3.Connection) -> str | None:
    try:
        if isinstance(conn, sqlite3.Connection):
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        else:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except (sqlite3.Error, Exception):
        return None
    return row[0] if row else None


def _content(conn: Connection, tables: tuple[str, ...]) -> dict[str, int]:
    present = set(inspect(conn).get_table_names())
    return {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in tables if t in present}


def _snapshot_rows(query: Any, tables: set[str]) -> tuple[list[tuple[int, str, str]], list[str]]:
    documents = [
        (int(r[0]), str(r[1]), str(r[2])) for r in query("SELECT id, path, sha256 FROM documents ORDER BY id")
    ]
    if "attachments" in tables:
        # Uploaded files (migration 0029) live beside the PDFs under their SHA-256 and travel with them;
        # one file stored for two uploads is taken once.
        seen = {path for _, path, _ in documents}
        for r in query("SELECT id, path, sha256 FROM attachments ORDER BY id"):
            if str(r[1]) not in seen:
                seen.add(str(r[1]))
                documents.append((int(r[0]), str(r[1]), str(r[2])))
    exports = [
        str(r[0])
        for r in query(
            "SELECT file_path FROM jobs "
            "WHERE file_path IS NOT NULL AND document_id IS NULL AND state = 'done' ORDER BY id"
        )
    ]
    return documents, exports


def _audit_head(query: Any) -> tuple[int, str, int] | None:
    """The chain's head row in the snapshot (None before migration 0019)."""
    try:
        rows = query("SELECT n, last_hash, mac_from FROM audit_chain_head WHERE id = 1")
    except sqlite3.Error:  # SQLite: checked by trying; PostgreSQL's caller checks the columns first
        return None
    return (int(rows[0][0]), str(rows[0][1]), int(rows[0][2])) if rows else None


def _sqlite_snapshot(url: str, folder: Path) -> _Snapshot:
    live = _sqlite_path(url)
    if not live.is_file():
        raise BackupError(f"数据库文件不存在：{live}（请先运行 tiaojie init）")
    snapshot = folder / "tiaojie.db"
    os.close(os.open(snapshot, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    # Read-only: the backup never writes to the live database. backup() with pages=-1 copies every page in
    # one step, inside one read transaction: a snapshot as of one moment, WAL included, while writers go on.
    source = sqlite3.connect(f"{live.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(snapshot)
    try:
        source.backup(target, pages=-1)
        # One self-contained file (no -wal beside it) for the archive.
        target.execute("PRAGMA journal_mode=DELETE")
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"数据库快照完整性检查未通过：{check}")
        tables = {r[0] for r in target.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "documents" not in tables:
            raise BackupError("数据库尚未初始化（请先运行 tiaojie init）")
        counts = {
            t: target.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
            for t in COUNTED_TABLES
            if t in tables
        }
        documents, exports = _snapshot_rows(lambda sql: target.execute(sql).fetchall(), tables)
        revision = _schema_revision(target)
        head = _audit_head(lambda sql: target.execute(sql).fetchall())
    finally:
        target.close()
        source.close()
    return _Snapshot("sqlite", snapshot, revision, counts, documents, exports, head)


@contextlib.contextmanager
def _connected(engine: Engine) -> Iterator[Connection]:
    try:
        conn = engine.connect()
    except OperationalError as exc:
        raise BackupError(f"无法连接数据库：{str(exc.orig).strip().splitlines()[-1]}") from None
    with conn:
        yield conn


def _postgres_snapshot(url: str, folder: Path) -> _Snapshot:
    dump = folder / "tiaojie.pgdump"
    conninfo, env = _libpq(url)
    engine = create_engine(url, isolation_level="REPEATABLE READ", poolclass=NullPool)
    try:
        with _connected(engine) as conn, conn.begin():
            # pg_dump works in this transaction's snapshot, and the counts and file lists below are read in it
            # too: what is dumped and what is archived are the same moment.
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            _run_pg_tool(
                [
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot_id}",
                    f"--file={dump}",
                    f"--dbname={conninfo}",
                ],
                env,
                "pg_dump ",
            )
            present = set(inspect(conn).get_table_names())
            if "documents" not in present:
                raise BackupError("数据库尚未初始化（请先运行 tiaojie init）")
            counts = _content(conn, COUNTED_TABLES)
            documents, exports = _snapshot_rows(lambda sql: conn.execute(text(sql)).all(), present)
            revision = _schema_revision(conn)
            head = None
            if "audit_chain_head" in present and "mac_from" in {
                c["name"] for c in inspect(conn).get_columns("audit_chain_head")
            }:
                head = _audit_head(lambda sql: conn.execute(text(sql)).all())
    finally:
        engine.dispose()
    os.chmod(dump, PRIVATE_FILE_MODE)
    return _Snapshot("postgresql", dump, revision, counts, documents, exports, head)


def _owner_url(settings: Settings) -> str:
    """The database as its owner: where the app connects as a lesser role (TIAOJIE_MIGRATE_DATABASE_URL
    set), dumping every table and recreating them on restore take the owner, as migrating does."""
    return getattr(settings, "migrate_database_url", None) or settings.effective_database_url


# --- archive helpers -----------------------------------------------------------------------------------


def _safe_relative(name: str) -> str:
    """A member or stored path that stays inside the data dir (no absolute path, no `..`)."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("..", "") for part in path.parts) or "\\" in name:
        raise BackupError(f"不安全的路径：{name}")
    return str(path)


class _HashingReader:
    """Hands tarfile the file's bytes and hashes them on the way: what is archived is what was checked."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add(tar: tarfile.TarFile, member: _Member, mtime: float) -> dict[str, Any]:
    try:
        handle = member.source.open("rb")
    except FileNotFoundError:
        raise BackupError(f"备份失败：文件缺失 {member.name}") from None
    with handle:
        info = tarfile.TarInfo(member.name)
        info.size = os.fstat(handle.fileno()).st_size
        info.mode = member.mode
        info.mtime = int(mtime)
        reader = _HashingReader(handle)
        tar.addfile(info, reader)  # tarfile only calls read()
    sha256 = reader.digest.hexdigest()
    if member.expected_sha256 is not None and sha256 != member.expected_sha256:
        raise BackupError(f"备份失败：文件 {member.name} 的内容与数据库记录的指纹不符（可能已损坏或被篡改）")
    return {"name": member.name, "kind": member.kind, "size": info.size, "sha256": sha256}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = PRIVATE_FILE_MODE
    info.mtime = int(mtime)
    tar.addfile(info, io.BytesIO(data))


@contextlib.contextmanager
def _atomic_output(out: Path) -> Iterator[IO[bytes]]:
    """Write `out` under a temporary name beside it (0600: it holds everything) and rename it into place
    only when complete: a failed backup leaves no half file, and never replaces a good one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tiaojie")
    except PackageNotFoundError:
        return "unknown"


# --- backup ----------------------------------------------------------------------------------------------


def backup(out: Path, *, now: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """Write the backup to `out`; return its manifest."""
    settings = settings or get_settings()
    url = _owner_url(settings)
    kind = _kind(url)
    data_dir = Path(settings.data_dir)
    out = Path(out)
    with tempfile.TemporaryDirectory(
        prefix=".tiaojie-backup-", dir=out.parent if out.parent.is_dir() else None
    ) as tmp:
        folder = Path(tmp)
        snap = _sqlite_snapshot(url, folder) if kind == "sqlite" else _postgres_snapshot(url, folder)
        members = [
            _Member(
                SQLITE_MEMBER if kind == "sqlite" else POSTGRES_MEMBER,
                snap.path,
                "database",
                PRIVATE_FILE_MODE,
            )
        ]
        for doc_id, path, sha256 in snap.documents:
            name = _safe_relative(path)
            if not (data_dir / name).is_file():
                raise BackupError(f"备份失败：文书 id={doc_id} 的文件缺失：{data_dir / name}")
            members.append(_Member(name, data_dir / name, "document", PDF_MODE, sha256))
        skipped = []
        for path in snap.exports:
            name = _safe_relative(path)
            # A ledger export can be made again from the database; one removed since is only noted.
            if (data_dir / name).is_file():
                members.append(_Member(name, data_dir / name, "export", PRIVATE_FILE_MODE))
            else:
                skipped.append(name)
        key_file = data_dir / "secret_key"
        if key_file.is_file():
            members.append(_Member(SECRET_KEY_MEMBER, key_file, "secret_key", PRIVATE_FILE_MODE))

        mtime = now.timestamp()
        with _atomic_output(out) as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
            entries = [_add(tar, m, mtime) for m in members]
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "app_version": _version(),
                "created_at": now.isoformat(),
                "database": {
                    "kind": kind,
                    "member": members[0].name,
                    "schema_revision": snap.schema_revision,
                },
                "counts": snap.counts,
                "skipped_exports": skipped,
                "members": entries,
            }
            if snap.audit_head is not None:
                # Outside the database from now on: a later `audit verify --backup` holds the log to it.
                n, last_hash, mac_from = snap.audit_head
                keys = audit_keys(settings.effective_secret_key)
                manifest["audit_anchor"] = Anchor(n, last_hash, mac_from, now).signed(keys.anchor)
            _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode(), mtime)
    return manifest


# --- restore ---------------------------------------------------------------------------------------------


def read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        handle = tar.extractfile(MANIFEST)
    except KeyError:
        raise BackupError("不是 tiaojie 备份文件：缺少 manifest.json") from None
    if handle is None:
        raise BackupError("不是 tiaojie 备份文件：manifest.json 不是普通文件")
    try:
        manifest = json.loads(handle.read())
    except ValueError:
        raise BackupError("备份文件的 manifest.json 无法解析") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("不是 tiaojie 备份文件")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"不支持的备份格式版本：{manifest.get('format_version')}")
    return manifest


def manifest_anchor(archive: Path) -> Anchor | None:
    """The signed audit anchor of a backup's manifest (None for a backup made before there were any);
    AnchorError when its signature does not check out."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"找不到备份文件：{archive}")
    with _open_backup(archive) as tar:
        try:
            manifest = read_manifest(tar)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise BackupError(f"备份文件已损坏：{exc}") from None
    data = manifest.get("audit_anchor")
    return None if data is None else load_anchor(data, source=f"备份 {archive.name}")


def _check_members(tar: tarfile.TarFile, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest's entries by name, after checking they are exactly the archive's files."""
    entries = {}
    for entry in manifest.get("members", []):
        name = _safe_relative(str(entry.get("name", "")))
        if name in entries or name == MANIFEST:
            raise BackupError(f"备份清单重复或非法：{name}")
        entries[name] = entry
    names = set()
    for info in tar.getmembers():
        if info.name == MANIFEST:
            continue
        if not info.isfile():
            raise BackupError(f"备份文件含有非普通文件：{info.name}")
        if info.name not in entries:
            raise BackupError(f"备份文件含有清单之外的文件：{info.name}")
        names.add(info.name)
    missing = set(entries) - names
    if missing:
        raise BackupError(f"备份文件缺少清单中的文件：{sorted(missing)[0]}")
    database = manifest.get("database", {}).get("member")
    if database not in entries or entries[database].get("kind") != "database":
        raise BackupError("备份文件缺少数据库")
    return entries


def _extract_verified(tar: tarfile.TarFile, entries: dict[str, dict[str, Any]], folder: Path) -> None:
    """Every member into `folder`, each checked against its sha256 (a document also against its name)."""
    for name, entry in entries.items():
        source = tar.extractfile(name)
        assert source is not None  # checked regular files above
        target = folder / name
        make_private_dirs(target.parent, folder)
        digest = hashlib.sha256()
        with target.open("wb") as handle:
            for block in iter(lambda: source.read(_BLOCK), b""):  # noqa: B023  # consumed in this iteration
                digest.update(block)
                handle.write(block)
        sha256 = digest.hexdigest()
        if sha256 != entry.get("sha256"):
            raise BackupError(f"备份文件已损坏：{name} 的 sha256 与清单不符")
        if entry.get("kind") == "document" and PurePosixPath(name).stem != sha256:
            raise BackupError(f"备份文件已损坏：文书 {name} 的内容与文件名指纹不符")


def _target_content(url: str) -> dict[str, int]:
    """Rows in the content tables of the target database (empty dict: no database or no tables yet)."""
    if _kind(url) == "sqlite":
        path = _sqlite_path(url)
        if not path.is_file() or path.stat().st_size == 0:
            return {}
        lite = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            tables = {r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return {
                t: lite.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                for t in CONTENT_TABLES
                if t in tables
            }
        finally:
            lite.close()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with _connected(engine) as conn:
            return _content(conn, CONTENT_TABLES)
    finally:
        engine.dispose()


def _restore_sqlite(snapshot: Path, url: str) -> None:
    """Replace the target's content with the snapshot in one SQLite transaction (the backup API run the other
    way): atomic — a crash leaves the old database — and safe beside a WAL and other connections, where
    renaming a file over the database would not be (a stale -wal would be replayed onto the new file)."""
    target_path = _sqlite_path(url)
    make_private_dirs(target_path.parent, target_path.parent)
    if not target_path.exists():
        os.close(os.open(target_path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    source = sqlite3.connect(f"{snapshot.resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target, pages=-1)
    finally:
        target.close()
        source.close()
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = target_path.with_name(target_path.name + suffix)
        if candidate.exists():
            os.chmod(candidate, PRIVATE_FILE_MODE)


def _restore_postgres(dump: Path, url: str) -> None:
    conninfo, env = _libpq(url)
    _run_pg_tool(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={conninfo}",
            str(dump),
        ],
        env,
        "pg_restore ",
    )


def _check_revision(revision: str | None) -> None:
    """A backup from a newer version of Tiaojie (a schema this code does not know) is refused up front."""
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    from models.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        known = scripts.get_revision(revision)
    except Exception:
        known = None
    if known is None:
        raise BackupError(f"备份来自更新版本的 tiaojie（数据库版本 {revision}），请先升级本程序")


@contextlib.contextmanager
def _open_backup(archive: Path) -> Iterator[tarfile.TarFile]:
    with contextlib.ExitStack() as stack:
        try:
            tar = stack.enter_context(tarfile.open(archive, mode="r:gz"))
        except (tarfile.TarError, OSError):
            raise BackupError(f"不是 tiaojie 备份文件：{archive}") from None
        yield tar


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    counts: dict[str, int]
    audit: str = ""  # the restored audit log: verified and anchored again, or why not


def restore(
    archive: Path, *, force: bool, settings: Settings | None = None, now: datetime | None = None
) -> RestoreResult:
    """Restore `archive`; the audit log restored is held to the backup's own anchor and, if it holds, anchored
    again as of `now` (the archive's later anchors name rows an older backup does not have)."""
    settings = settings or get_settings()
    url = _owner_url(settings)
    kind = _kind(url)
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"找不到备份文件：{archive}")
    with _open_backup(archive) as tar:
        try:
            manifest = read_manifest(tar)
            entries = _check_members(tar, manifest)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupError(f"备份文件已损坏：{exc}") from None
        backup_kind = manifest["database"].get("kind")
        if backup_kind != kind:
            raise BackupError(f"备份的数据库类型为 {backup_kind}，而目标数据库为 {kind}：不能跨类型恢复")
        _check_revision(manifest["database"].get("schema_revision"))
        present = {t: n for t, n in _target_content(url).items() if n}
        if present and not force:
            summary = "、".join(f"{t} {n} 行" for t, n in present.items())
            raise BackupError(f"目标数据库不是空的（{summary}）：确认要覆盖请加 --force")

        data_dir = settings.ensure_data_dir()
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=data_dir) as tmp:
            staging = Path(tmp)
            try:
                _extract_verified(tar, entries, staging)
            except (tarfile.TarError, EOFError, zlib.error) as exc:
                raise BackupError(f"备份文件已损坏：{exc}") from None
            # Files first, the database last: at no moment does a restored row point to a missing file.
            for name, entry in entries.items():
                member_kind = entry.get("kind")
                if member_kind == "document":
                    write_private(data_dir / name, data_dir, staging / name, mode=PDF_MODE)
                elif member_kind in ("export", "secret_key"):
                    write_private(data_dir / name, data_dir, staging / name, mode=PRIVATE_FILE_MODE)
            database = staging / manifest["database"]["member"]
            if kind == "sqlite":
                _restore_sqlite(database, url)
            else:
                _restore_postgres(database, url)

    from models.migrate import upgrade

    try:
        upgrade(url)  # a backup from an older version comes up to this version's schema
    except Exception as exc:
        revision = manifest["database"].get("schema_revision")
        raise BackupError(
            f"已恢复备份（数据库版本 {revision}），但迁移到本版本失败：{str(exc).splitlines()[0]}"
        ) from None
    role = getattr(settings, "app_db_role", None)
    if role and kind == "postgresql":
        # As after `tiaojie init`: the app's lesser role gets its grants on the recreated tables again.
        from models.audit_chain import grant_app_role

        owner = create_engine(url, poolclass=NullPool)
        try:
            grant_app_role(owner, role)
        finally:
            owner.dispose()
    counts = _restored_counts(url)
    expected = manifest.get("counts", {})
    for table, n in expected.items():
        if counts.get(table) != n:
            raise BackupError(f"恢复后 {table} 为 {counts.get(table)} 行，备份清单为 {n} 行")
    audit = _anchor_restored(url, manifest, settings, now or datetime.now(UTC))
    return RestoreResult(manifest, counts, audit)


def _anchor_restored(url: str, manifest: dict[str, Any], settings: Settings, now: datetime) -> str:
    """One line on the restored audit log. The restore stands either way (the data is what the backup
    holds); a log that does not verify is not anchored, and said so."""
    from flows.audit_anchor import AnchorRefused, anchor_as_restored
    from models.audit_chain import AnchorError

    keys = audit_keys(settings.effective_secret_key)
    engine = create_engine(url, poolclass=NullPool)
    try:
        data = manifest.get("audit_anchor")
        kept = None if data is None else load_anchor(data, source="备份清单", key=keys.anchor)
        fresh = anchor_as_restored(engine, kept, now=now, data_dir=settings.ensure_data_dir(), keys=keys)
    except (AnchorError, AnchorRefused) as exc:
        return f"警告：恢复的审计日志未通过校验，未重新锚定：{exc}"
    finally:
        engine.dispose()
    return f"审计日志已校验并重新锚定：共 {fresh.n} 条记录"


def _restored_counts(url: str) -> dict[str, int]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _content(conn, COUNTED_TABLES)
    finally:
        engine.dispose()
