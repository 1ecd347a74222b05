from __future__ import annotations

import random
from decimal import Decimal

import pytest

from documents.money import amount_in_chinese_capitals
from models.money import MAX_AMOUNT, format_amount, parse_amount


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("320000.00", "人民币叁拾贰万元整"),
        ("1234.56", "人民币壹仟贰佰叁拾肆元伍角陆分"),
        (0.05, "人民币伍分"),
        (100000000, "人民币壹亿元整"),
        (100100, "人民币壹拾万零壹佰元整"),
        ("0", "人民币零元整"),
        ("0.00", "人民币零元整"),
        ("1", "人民币壹元整"),
        ("10", "人民币壹拾元整"),
        ("15", "人民币壹拾伍元整"),
        ("100", "人民币壹佰元整"),
        ("101", "人民币壹佰零壹元整"),
        ("110", "人民币壹佰壹拾元整"),
        ("1001", "人民币壹仟零壹元整"),
        ("1010", "人民币壹仟零壹拾元整"),
        ("10000", "人民币壹万元整"),
        ("10001", "人民币壹万零壹元整"),
        ("10010", "人民币壹万零壹拾元整"),
        ("101000", "人民币壹拾万壹仟元整"),
        ("110000", "人民币壹拾壹万元整"),
        ("1000001", "人民币壹佰万零壹元整"),
        ("1010101", "人民币壹佰零壹万零壹佰零壹元整"),
        ("20000000", "人民币贰仟万元整"),
        ("100010000", "人民币壹亿零壹万元整"),
        ("100001000", "人民币壹亿零壹仟元整"),
        ("100000001", "人民币壹亿零壹元整"),
        ("1200000000", "人民币壹拾贰亿元整"),
        ("999999999999.99", "人民币玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        # Past 9999亿 the count of 亿 takes 万 again, up to the bound of models.money.
        ("1000000000000", "人民币壹万亿元整"),
        ("1000100000000", "人民币壹万零壹亿元整"),
        ("1000000010000", "人民币壹万亿零壹万元整"),
        ("1000010000000", "人民币壹万亿零壹仟万元整"),
        ("1000000000001.01", "人民币壹万亿零壹元零壹分"),
        ("10000000000000", "人民币壹拾万亿元整"),
        ("12345678901234.56", "人民币壹拾贰万叁仟肆佰伍拾陆亿柒仟捌佰玖拾万壹仟贰佰叁拾肆元伍角陆分"),
        ("99999999999999.99", "人民币玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        ("0.5", "人民币伍角"),
        ("0.50", "人民币伍角"),
        ("0.56", "人民币伍角陆分"),
        ("100.05", "人民币壹佰元零伍分"),
        ("100.50", "人民币壹佰元伍角"),
        ("1000.10", "人民币壹仟元壹角"),
        ("200000.00", "人民币贰拾万元整"),
        ("120000", "人民币壹拾贰万元整"),
        ("150000", "人民币壹拾伍万元整"),
        (Decimal("6580.3"), "人民币陆仟伍佰捌拾元叁角"),
        ("1,234.00", "人民币壹仟贰佰叁拾肆元整"),
        (12, "人民币壹拾贰元整"),
        (0.1, "人民币壹角"),
        (19.99, "人民币壹拾玖元玖角玖分"),
    ],
)
def test_amount_in_chinese_capitals(value: object, expected: str) -> None:
    assert amount_in_chinese_capitals(value) == expected


@pytest.mark.parametrize(
    "value",
    ["-1", "1.234", "abc", "", "NaN", "Infinity", "100000000000000", "99999999999999.991", True, 0.001],
)
def test_rejects_what_is_not_a_sum_of_money(value: object) -> None:
    with pytest.raises(ValueError):
        amount_in_chinese_capitals(value)


def test_trailing_zeros_beyond_cents_are_fine() -> None:
    assert amount_in_chinese_capitals("12.3400") == "人民币壹拾贰元叁角肆分"


def test_never_two_zeros_in_a_row_and_no_trailing_zero() -> None:
    for number in [
        *range(0, 2100, 7),
        100100,
        1000100,
        10010010,
        100100100,
        1000000010,
        *(10**power for power in range(14)),
        *(10**power + 1 for power in range(14)),
        10**13 + 10**8 + 10**4,
    ]:
        text = amount_in_chinese_capitals(number)
        assert "零零" not in text, text
        assert not text.endswith("零元整") or number == 0, text
        assert "零万" not in text and "零亿" not in text, text


def test_format_amount_and_parse() -> None:
    assert format_amount("320000") == "320,000.00"
    assert format_amount(Decimal("1234.5")) == "1,234.50"
    assert parse_amount(0.05) == Decimal("0.05")


_DIGIT_VALUES = {c: n for n, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_UNIT_VALUES = {"拾": 10, "佰": 100, "仟": 1000}


def _read_capitals(text: str) -> Decimal:
    """The usual reading of a Chinese numeral, written here apart from documents.money: 万 multiplies
    what stands since the last 亿, 亿 everything before it."""
    assert text.startswith("人民币"), text
    body = text.removeprefix("人民币").removesuffix("整")
    yuan_text, _, cents_text = body.rpartition("元") if "元" in body else ("", "", body)
    total = section = number = 0
    for char in yuan_text:
        if char in _DIGIT_VALUES:
            number = _DIGIT_VALUES[char]
        elif char in _UNIT_VALUES:
            section += number * _UNIT_VALUES[char]
            number = 0
        elif char == "万":
            section = (section + number) * 10_000
            number = 0
        elif char == "亿":
            total = (total + section + number) * 100_000_000
            section = number = 0
        else:
            raise AssertionError(f"unexpected {char!r} in {text}")
    yuan = total + section + number
    jiao = fen = 0
    for digit, unit in zip(cents_text[::2], cents_text[1::2], strict=False):
        if unit == "角":
            jiao = _DIGIT_VALUES[digit]
        elif unit == "分":
            fen = _DIGIT_VALUES[digit]
    if cents_text.startswith("零"):  # 壹佰元零伍分
        fen = _DIGIT_VALUES[cents_text[1]]
    return Decimal(yuan) + Decimal(jiao) / 10 + Decimal(fen) / 100


def test_every_amount_up_to_the_bound_reads_back() -> None:
    rng = random.Random(24)
    fen_bound = int(MAX_AMOUNT * 100)
    amounts = [MAX_AMOUNT, Decimal("0.01"), Decimal("10000000000000"), Decimal("1000000000000.05")]
    amounts += [Decimal(rng.randint(0, fen_bound)) / 100 for _ in range(3000)]
    # Sparse digits: the zeros between sections are where capitals go wrong.
    amounts += [
        Decimal(
            rng.choice([0, 1, 5]) * 10 ** rng.randint(0, 15) + rng.choice([0, 7]) * 10 ** rng.randint(0, 15)
        )
        / 100
        for _ in range(3000)
    ]
    for amount in amounts:
        amount = min(amount, MAX_AMOUNT)
        text = amount_in_chinese_capitals(amount)
        assert _read_capitals(text) == amount, (amount, text)
        assert "零零" not in text and "零万" not in text and "零亿" not in text, text
