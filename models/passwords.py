"""Password hashing (argon2).

`TIAOJIE_PASSWORD_HASH_COST=fast` picks cheap argon2 parameters: for test suites and throwaway demo
data only, where hundreds of users are created and nobody attacks the hashes. Argon2 writes its
parameters into each hash, so a hash made with either setting verifies under the other."""

from __future__ import annotations

from functools import lru_cache
from typing import TypedDict

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from models.settings import get_settings


class Argon2Cost(TypedDict):
    """Keywords of Argon2Hasher, typed so that `**FAST_PARAMETERS` is checked against them."""

    time_cost: int
    memory_cost: int  # KiB
    parallelism: int


# Cheap enough that a test creating users spends microseconds, not a second, per hash.
FAST_PARAMETERS: Argon2Cost = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


@lru_cache
def _hasher_and_dummy() -> tuple[PasswordHash, str]:
    if get_settings().password_hash_cost == "fast":
        hasher = PasswordHash((Argon2Hasher(**FAST_PARAMETERS),))
    else:
        hasher = PasswordHash.recommended()
    # A constant hash so that an unknown user name costs the same time as a wrong password.
    return hasher, hasher.hash("tiaojie-dummy-password")


def hash_password(password: str) -> str:
    return _hasher_and_dummy()[0].hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    hasher, dummy_hash = _hasher_and_dummy()
    if not password_hash:
        hasher.verify(password, dummy_hash)
        return False
    try:
        return hasher.verify(password, password_hash)
    except Exception:  # a malformed stored hash is a failed login, not a 500
        return False
