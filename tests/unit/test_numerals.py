"""Chinese numerals (models/numerals.py): each expectation worked out by hand, as one reads the number."""

from __future__ import annotations

import pytest

from models.numerals import chinese_number


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "零"),
        (1, "一"),
        (9, "九"),
        (10, "十"),
        (12, "十二"),
        (19, "十九"),
        (20, "二十"),
        (21, "二十一"),
        (99, "九十九"),
        (100, "一百"),
        (101, "一百零一"),
        (105, "一百零五"),
        (110, "一百一十"),
        (111, "一百一十一"),
        (205, "二百零五"),
        (1000, "一千"),
        (1005, "一千零五"),
        (1010, "一千零一十"),
        (1100, "一千一百"),
        (2026, "二千零二十六"),
        (10000, "一万"),
        (10005, "一万零五"),
        (10100, "一万零一百"),
        (100000, "十万"),
        (123456, "十二万三千四百五十六"),
        (99999999, "九千九百九十九万九千九百九十九"),
    ],
)
def test_chinese_number(number: int, words: str) -> None:
    assert chinese_number(number) == words


@pytest.mark.parametrize("number", [-1, 100_000_000])
def test_out_of_range(number: int) -> None:
    with pytest.raises(ValueError):
        chinese_number(number)
