"""一案一码: each party's own access code, printed on its notices and typed on /p/{code}.

No table: the code is the party's id, with a keyed check, passed through a keyed permutation, so it is
deterministic (the same code on every notice and every reprint), unguessable without the server's secret
key, says nothing about how many parties there are, and leads back to its party with one primary-key read.

Layout: 50 bits = 10 Crockford base32 characters (no I, L, O, U: nothing a person misreads on paper).
The plain 50 bits are the party id (ID_BITS) followed by a check of CHECK_BITS from HMAC(key, "party:{id}");
a 4-round Feistel network keyed by HMAC turns them into the printed code (a keyed permutation: a changed
character changes the whole decoded value, so a guess passes the check 1 time in 2**CHECK_BITS).
Changing TIAOJIE_SECRET_KEY changes every code (codes already printed stop working).
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from sqlmodel import Session

from models.party import Party
from models.settings import get_settings

CODE_LENGTH = 10
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
ID_BITS = 28  # 268 million parties
CHECK_BITS = 5 * CODE_LENGTH - ID_BITS
HALF = 5 * CODE_LENGTH // 2
ROUNDS = 4
# What people type for what they mean (Crockford's decoding: O is 0, I and L are 1).
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


@lru_cache(maxsize=4)
def _keys(secret: str) -> tuple[bytes, bytes]:
    """Two keys derived from the server's secret: one for the check, one for the permutation."""
    root = secret.encode()
    return (
        hmac.new(root, b"party-access:check", hashlib.sha256).digest(),
        hmac.new(root, b"party-access:permute", hashlib.sha256).digest(),
    )


def _round(key: bytes, index: int, half: int) -> int:
    digest = hmac.new(key, f"{index}:{half}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << HALF) - 1)


def _permute(value: int, key: bytes, *, inverse: bool = False) -> int:
    left, right = value >> HALF, value & ((1 << HALF) - 1)
    if not inverse:
        for index in range(ROUNDS):
            left, right = right, left ^ _round(key, index, right)
    else:
        for index in reversed(range(ROUNDS)):
            left, right = right ^ _round(key, index, left), left
    return (left << HALF) | right


def _check(key: bytes, party_id: int) -> int:
    digest = hmac.new(key, f"party:{party_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << CHECK_BITS) - 1)


def code_for_id(party_id: int, *, secret: str | None = None) -> str:
    if not 0 < party_id < (1 << ID_BITS):
        raise ValueError(f"party id out of the code's range: {party_id}")
    check_key, permute_key = _keys(secret or get_settings().effective_secret_key)
    value = _permute((party_id << CHECK_BITS) | _check(check_key, party_id), permute_key)
    return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))


def normalize_code(text: str) -> str | None:
    """The code as typed (any case, spaces or hyphens, O for 0, I or L for 1) in its printed form, or
    None when it cannot be one."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -_").translate(_READS_AS)
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def id_for_code(text: str, *, secret: str | None = None) -> int | None:
    """The party id a code stands for, or None when the code is not one this server issued."""
    code = normalize_code(text)
    if code is None:
        return None
    value = 0
    for ch in code:
        value = (value << 5) | ALPHABET.index(ch)
    check_key, permute_key = _keys(secret or get_settings().effective_secret_key)
    plain = _permute(value, permute_key, inverse=True)
    party_id, check = plain >> CHECK_BITS, plain & ((1 << CHECK_BITS) - 1)
    if party_id == 0 or not hmac.compare_digest(
        check.to_bytes(4, "big"), _check(check_key, party_id).to_bytes(4, "big")
    ):
        return None
    return party_id


def party_code(session: Session, party: Party) -> str:
    """The party's access code (10 characters, e.g. 7KQ2M9XH4D). `session` is unused: kept so callers do
    not change if codes ever come from a table."""
    assert party.id is not None, "a party gets its code once saved"
    return code_for_id(party.id)


def party_for_code(session: Session, code: str) -> Party | None:
    """The party a typed code names, or None (malformed, not issued here, or the party is gone)."""
    party_id = id_for_code(code)
    return session.get(Party, party_id) if party_id is not None else None


def page_url(code: str, base_url: str | None = None) -> str:
    """The party's page as printed and sent (`TIAOJIE_PUBLIC_BASE_URL` unless the caller has its own)."""
    return f"{(base_url or get_settings().public_base_url).rstrip('/')}/p/{code}"


def party_page_url(session: Session, party: Party) -> str:
    return page_url(party_code(session, party))


def format_code(code: str) -> str:
    """For print: two groups of five, easier to read aloud and type (XXXXX-XXXXX); typed either way."""
    return f"{code[:5]}-{code[5:]}"
