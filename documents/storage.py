"""Archive issued PDFs by fingerprint: data_dir/documents/ab/cd/<sha256>.pdf.

Content-addressed, so archiving the same bytes twice is a no-op (a retried flow issues nothing new),
and a file is never replaced by different bytes. Writes go to a temporary file in the target folder,
are flushed to disk, then linked into place, so a reader never sees a half-written PDF.

The PDFs carry full ID numbers: they are stored read-only for the owner (0400) in folders only the
owner may enter (0700), whatever the umask.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

PDF_MODE = 0o400
DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class ArchiveConflict(RuntimeError):
    """A file at the fingerprint's path holds different bytes (disk corruption or tampering)."""


def fingerprint(pdf: bytes) -> str:
    """SHA-256 of the PDF bytes, lower-case hex."""
    return hashlib.sha256(pdf).hexdigest()


def archive_path(sha256: str, data_dir: Path, suffix: str = "pdf") -> Path:
    return Path(data_dir) / "documents" / sha256[:2] / sha256[2:4] / f"{sha256}.{suffix}"


def _same_content(path: Path, sha256: str) -> bool:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == sha256


def archive(pdf: bytes, data_dir: Path) -> tuple[str, Path]:
    """Store `pdf` under its SHA-256; return (sha256, path). Idempotent; never overwrites."""
    if not pdf.startswith(b"%PDF-"):
        raise ValueError("not a PDF")
    return archive_file(pdf, data_dir, "pdf")


def archive_file(pdf: bytes, data_dir: Path, suffix: str) -> tuple[str, Path]:
    """Store any bytes (an uploaded attachment, already judged by its content) under their SHA-256 with
    `suffix`; return (sha256, path). Idempotent; never overwrites."""
    sha256 = fingerprint(pdf)
    path = archive_path(sha256, data_dir, suffix)
    if path.exists():
        if _same_content(path, sha256):
            return sha256, path
        raise ArchiveConflict(f"{path} exists with different content")
    make_private_dirs(path.parent, Path(data_dir))
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=f".{suffix}", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pdf)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, PDF_MODE)
        try:
            # link() fails if the name exists: a concurrent writer cannot be overwritten.
            os.link(tmp, path)
        except FileExistsError:
            if not _same_content(path, sha256):
                raise ArchiveConflict(f"{path} exists with different content") from None
        except OSError:
            # File systems without hard links: rename is still atomic; the existence check above
            # covers the sequential case, and equal names mean equal bytes anyway.
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return sha256, path


def make_private_dirs(directory: Path, root: Path) -> None:
    """Create `directory` and its missing parents below `root` with mode 0700.

    (mkdir's mode applies only to the last folder and is masked by the umask.)"""
    directory, root = Path(directory), Path(root)
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, DIR_MODE)
    missing = []
    current = directory
    while not current.exists() and current != root and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        os.chmod(folder, DIR_MODE)


def write_private(path: Path, data_dir: Path, source: Path, *, mode: int = PRIVATE_FILE_MODE) -> None:
    """Put the bytes of `source` at `path` (inside `data_dir`) with `mode`, atomically: the file is
    written and flushed under a temporary name in the target folder, then renamed into place
    (a restore replaces what is there; a reader sees the old file or the new one)."""
    path = Path(path)
    make_private_dirs(path.parent, Path(data_dir))
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle, Path(source).open("rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def archive_record(folder: str, name: str, data: bytes, data_dir: Path) -> Path:
    """Keep `data` as `documents/<folder>/<name>` beside the PDFs: written once (0400), never replaced.

    For records that must outlive the database (the audit log's anchors): a name already taken by other
    bytes is refused, the same bytes again are a no-op."""
    path = Path(data_dir) / "documents" / folder / name
    make_private_dirs(path.parent, Path(data_dir))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PDF_MODE)
    except FileExistsError:
        if path.read_bytes() == data:
            return path
        raise ArchiveConflict(f"{path} exists with different content") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_dir(path.parent)
    return path


def archived_records(folder: str, data_dir: Path) -> list[Path]:
    """The files `archive_record` kept in `folder`, by name."""
    directory = Path(data_dir) / "documents" / folder
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
