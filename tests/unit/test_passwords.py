"""Password hashing: the cost setting changes the argon2 parameters, never what verifies."""

from __future__ import annotations

import pytest
from pwdlib import PasswordHash

import models.passwords as passwords
from models.settings import get_settings


@pytest.fixture
def cost(monkeypatch):
    """Switch the setting for one test; the hasher is rebuilt from it."""

    def use(value: str) -> None:
        monkeypatch.setattr(get_settings(), "password_hash_cost", value)
        passwords._hasher_and_dummy.cache_clear()

    yield use
    passwords._hasher_and_dummy.cache_clear()


def test_default_cost_is_pwdlibs_recommendation(cost) -> None:
    cost("default")
    stored = passwords.hash_password("correct-horse-battery")
    # argon2id with RFC 9106's "second recommended option" as pwdlib ships it: 64 MiB, 3 passes, 4 lanes.
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password("correct-horse-battery", stored)
    assert not passwords.verify_password("wrong-horse-battery", stored)


def test_fast_cost_is_cheap_and_still_verifies_across_settings(cost) -> None:
    cost("fast")
    fast = passwords.hash_password("correct-horse-battery")
    assert fast.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert passwords.verify_password("correct-horse-battery", fast)
    assert not passwords.verify_password("wrong-horse-battery", fast)
    # argon2 stores its parameters in the hash: each setting verifies the other's hashes.
    recommended = PasswordHash.recommended().hash("correct-horse-battery")
    assert passwords.verify_password("correct-horse-battery", recommended)
    cost("default")
    assert passwords.verify_password("correct-horse-battery", fast)


def test_unknown_user_and_malformed_hash_fail_quietly(cost) -> None:
    cost("fast")
    assert passwords.verify_password("anything", None) is False
    assert passwords.verify_password("anything", "not-a-hash") is False


def test_setting_reads_the_environment(monkeypatch) -> None:
    from models.settings import Settings

    monkeypatch.setenv("TIAOJIE_PASSWORD_HASH_COST", "fast")
    assert Settings().password_hash_cost == "fast"
    monkeypatch.delenv("TIAOJIE_PASSWORD_HASH_COST")
    assert Settings().password_hash_cost == "default"
    monkeypatch.setenv("TIAOJIE_PASSWORD_HASH_COST", "cheap")
    with pytest.raises(ValueError):
        Settings()
