from __future__ import annotations

import hashlib
import os

import pytest

from documents.storage import ArchiveConflict, archive, archive_path

PDF = b"%PDF-1.7\n% tiaojie test\n%%EOF\n"


def test_archive_stores_by_fingerprint(tmp_path) -> None:
    sha, path = archive(PDF, tmp_path)
    assert sha == hashlib.sha256(PDF).hexdigest()
    assert path == tmp_path / "documents" / sha[:2] / sha[2:4] / f"{sha}.pdf"
    assert path.read_bytes() == PDF
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_archive_is_idempotent_and_does_not_rewrite(tmp_path) -> None:
    sha, path = archive(PDF, tmp_path)
    before = path.stat()
    sha2, path2 = archive(PDF, tmp_path)
    after = path2.stat()
    assert (sha2, path2) == (sha, path)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_archive_never_overwrites_different_bytes(tmp_path) -> None:
    sha = hashlib.sha256(PDF).hexdigest()
    path = archive_path(sha, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"%PDF-tampered")
    with pytest.raises(ArchiveConflict):
        archive(PDF, tmp_path)
    assert path.read_bytes() == b"%PDF-tampered"


def test_archived_file_is_read_only(tmp_path) -> None:
    _, path = archive(PDF, tmp_path)
    assert not os.stat(path).st_mode & 0o222


def test_rejects_non_pdf(tmp_path) -> None:
    with pytest.raises(ValueError):
        archive(b"<html>", tmp_path)


def test_archive_a_rendered_document(rendered, tmp_path) -> None:
    pdf = rendered["agreement"].pdf
    sha, path = archive(pdf, tmp_path)
    assert path.read_bytes() == pdf and path.name == f"{sha}.pdf"
