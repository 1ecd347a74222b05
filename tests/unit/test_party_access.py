"""一案一码: a party's code leads back to that party only, is fixed, and a typo or a guess leads nowhere."""

from __future__ import annotations

import random

from models.party_access import ALPHABET, code_for_id, format_code, id_for_code, normalize_code

KEY = "unit-test-secret"


def test_code_round_trips_and_is_fixed() -> None:
    for party_id in (1, 2, 17, 1000, 999_999, (1 << 28) - 1):
        code = code_for_id(party_id, secret=KEY)
        assert len(code) == 10 and set(code) <= set(ALPHABET)
        assert code == code_for_id(party_id, secret=KEY)  # the same on every reprint
        assert id_for_code(code, secret=KEY) == party_id


def test_neighbouring_ids_give_unrelated_codes_and_another_key_other_codes() -> None:
    a, b = code_for_id(41, secret=KEY), code_for_id(42, secret=KEY)
    assert sum(x == y for x, y in zip(a, b, strict=True)) < 5
    assert code_for_id(41, secret="another") != a
    assert id_for_code(a, secret="another") != 41


def test_typed_forms_are_read_and_one_changed_character_fails() -> None:
    code = code_for_id(7, secret=KEY)
    typed = format_code(code).lower().replace("0", "o").replace("1", "l")
    assert normalize_code(typed) == code
    assert id_for_code(typed, secret=KEY) == 7
    for i in range(10):
        wrong = code[:i] + ALPHABET[(ALPHABET.index(code[i]) + 1) % 32] + code[i + 1 :]
        assert id_for_code(wrong, secret=KEY) is None
    assert id_for_code("", secret=KEY) is None
    assert id_for_code("ABCDEFGHJU", secret=KEY) is None  # U is not in the alphabet
    assert id_for_code(code + "X", secret=KEY) is None


def test_random_guesses_almost_never_name_a_party() -> None:
    rng = random.Random(21)
    hits = sum(
        id_for_code("".join(rng.choice(ALPHABET) for _ in range(10)), secret=KEY) is not None
        for _ in range(20_000)
    )
    # The check is 22 bits: 20,000 guesses find one with probability ≈ 0.5 %.
    assert hits <= 1
