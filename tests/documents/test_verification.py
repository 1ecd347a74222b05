from __future__ import annotations

import re

import pytest

from documents.verification import is_sha256, new_verify_code, normalize_verify_code, verify_url


def test_new_codes_are_well_formed_and_distinct() -> None:
    codes = {new_verify_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
        assert normalize_verify_code(code) == code


def test_normalize_accepts_typed_variants() -> None:
    assert normalize_verify_code(" 7k3m 9qxw-2d4f h8rt ") == "7K3M-9QXW-2D4F-H8RT"
    assert normalize_verify_code("OOOO-IIII-LLLL-0000") == "0000-1111-1111-0000"
    assert normalize_verify_code("too-short") is None
    assert normalize_verify_code("U" * 16) is None


def test_sha_and_code_are_told_apart() -> None:
    assert is_sha256("a" * 64)
    assert not is_sha256("7K3M-9QXW-2D4F-H8RT")
    assert normalize_verify_code("a" * 64) is None


def test_verify_url() -> None:
    assert (
        verify_url("https://x.example/", "7k3m9qxw2d4fh8rt") == "https://x.example/verify/7K3M-9QXW-2D4F-H8RT"
    )
    with pytest.raises(ValueError):
        verify_url("https://x.example", "<script>")
