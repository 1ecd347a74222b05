"""Archive issued PDFs by fingerprint: data_dir/documents/ab/cd/<sha256>.pdf.

Content-addressed, so archiving the same bytes twice is a no-op (a retried flow issues nothing new),
and a file is never replaced by different bytes. Writes go to a temporary file in the target folder,
are flushed to disk, then linked into place, so a reader never sees a half-written PDF.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class ArchiveConflict(RuntimeError):
    """A file at the fingerprint's path holds different bytes (disk corruption or tampering)."""


def fingerprint(pdf: bytes) -> str:
    """SHA-256 of the PDF bytes, lower-case hex."""
    return hashlib.sha256(pdf).hexdigest()


def archive_path(sha256: str, data_dir: Path) -> Path:
    return Path(data_dir) / "documents" / sha256[:2] / sha256[2:4] / f"{sha256}.pdf"


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
    sha256 = fingerprint(pdf)
    path = archive_path(sha256, data_dir)
    if path.exists():
        if _same_content(path, sha256):
            return sha256, path
        raise ArchiveConflict(f"{path} exists with different content")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".pdf", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pdf)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o444)
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
