"""How a printed document is verified: a verification code chosen before rendering.

The problem: the design asks for `/verify/{sha256}` and a QR code on the page, but the SHA-256 is the
fingerprint of the finished PDF, and a PDF cannot contain its own hash (printing the hash changes the
bytes, which changes the hash).

The decision:
1. Before rendering, the issuer draws a verification code with `new_verify_code()` (80 random bits,
   Crockford base32, printed as four groups: "7K3M-9QXW-2D4F-H8RT") and puts it in the context as
   `verify_code`, with `verify_base_url` (the public base URL of the site).
2. The page prints the code as 验证码 and a QR code of `verify_url(base, code)`, i.e.
   `{base_url}/verify/{code}`.
3. After rendering, the PDF is archived by its SHA-256 (documents.storage.archive). The Document row
   stores both `sha256` and `verify_code` (both unique).
4. `GET /verify/{value}` accepts either: a 64-hex value is looked up as a sha256 (someone holding the
   file computes its fingerprint), anything else is normalised with `normalize_verify_code` and looked
   up as a code (someone holding the paper scans the QR or types the code). Both answer the same
   non-personal facts: kind, case number, date of issue, and the sha256 of the archived original, so a
   holder of a file can also compare it.

Since issue 21 every issued PDF is signed (documents/signing.py) and the SHA-256 is of the signed file; the
signature carries its signing time, so a document rendered again (a flow retried after a crash before its
commit) is a new file: only the one its committed Document row names is the issued one.
"""

from __future__ import annotations

import re
import secrets

# Crockford base32: no I, L, O, U, so codes read aloud over the phone are unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{16}$")


def new_verify_code() -> str:
    """A fresh 16-symbol code (80 bits) in four groups: "7K3M-9QXW-2D4F-H8RT"."""
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(symbols[i : i + 4] for i in range(0, 16, 4))


def normalize_verify_code(value: str) -> str | None:
    """Canonical form of a typed or scanned code, or None when it cannot be one."""
    cleaned = value.strip().upper().replace("-", "").replace(" ", "")
    look_alikes: dict[str, str | int | None] = {"I": "1", "L": "1", "O": "0"}
    cleaned = cleaned.translate(str.maketrans(look_alikes))
    if not _CODE_RE.match(cleaned):
        return None
    return "-".join(cleaned[i : i + 4] for i in range(0, 16, 4))


def is_sha256(value: str) -> bool:
    return bool(_SHA256_RE.match(value))


def verify_url(base_url: str, verify_code: str) -> str:
    """The URL the QR code encodes: `{base_url}/verify/{code}`."""
    code = normalize_verify_code(verify_code)
    if code is None:
        raise ValueError(f"not a verification code: {verify_code!r}")
    return f"{base_url.rstrip('/')}/verify/{code}"
