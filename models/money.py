"""Money amounts (元, to the 分): the one bound every layer keeps, and the column type storing them exactly.

The bound is what a NUMERIC(16, 2) column holds: 99,999,999,999,999.99 元 (玖拾玖万玖仟玖佰玖拾玖亿…).
The API refuses more (models/schemas.py `Amount`), the documents write every amount up to it in figures
and in capitals (documents/money.py), and PostgreSQL's column is NUMERIC(16, 2).

SQLite has no exact decimal: a NUMERIC column turns 99999999999999.99 into the REAL 99999999999999.98,
and text put into it is converted to REAL the same way. So on SQLite an amount is stored as an INTEGER
count of 分 (the bound is 10^16 - 1 分, far inside 64 bits): exact, and SUM, ORDER BY and comparisons
stay exact integer arithmetic in SQL. Migration 0018 converted the REAL values written before.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_DIGITS = 16
MONEY_PLACES = 2
CENT = Decimal(1).scaleb(-MONEY_PLACES)
# The largest amount anywhere: every digit of NUMERIC(16, 2) a nine.
MAX_AMOUNT = Decimal(10**MONEY_DIGITS - 1).scaleb(-MONEY_PLACES)
MAX_AMOUNT_TEXT = f"{MAX_AMOUNT:,}"
# A binary float (a JSON number, a spreadsheet's number) keeps 15 significant decimal digits exactly;
# with 分 that is every amount below 10^13 元.
FLOAT_DIGITS = 15
FLOAT_EXACT_BELOW = 10 ** (FLOAT_DIGITS - MONEY_PLACES)
# The bound as text: at most 14 digits of 元 and 2 of 分 (the JSON schema's pattern).
AMOUNT_PATTERN = rf"^\d{{1,{MONEY_DIGITS - MONEY_PLACES}}}(\.\d{{1,{MONEY_PLACES}}})?$"


def amount_problem(value: Decimal) -> str | None:
    """The Chinese reason an amount cannot be kept, or None when it can."""
    if not value.is_finite():
        return "应为金额数字"
    if value < 0:
        return "金额不能为负数"
    if value > MAX_AMOUNT:
        return f"金额不能超过 {MAX_AMOUNT_TEXT} 元"
    if value != value.quantize(CENT, rounding=ROUND_DOWN):
        return "金额最多两位小数（到分）"
    return None


def fits_float(value: Decimal) -> bool:
    """Whether a binary float (and Excel, which shows 15 digits) holds this amount exactly."""
    return len(value.normalize().as_tuple().digits) <= FLOAT_DIGITS


def to_fen(value: Decimal) -> int:
    return int(value.scaleb(MONEY_PLACES))


def from_fen(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-MONEY_PLACES).quantize(CENT)


def parse_amount(value: Decimal | str | float) -> Decimal:
    """Turn an amount into a Decimal with exactly two decimals; reject anything not a plain sum."""
    if isinstance(value, bool):
        raise ValueError("金额不能是布尔值")  # a bad value from JSON input, like "abc"
    if isinstance(value, float):
        # repr of a float is its shortest round-tripping decimal: 0.05 → "0.05".
        value = repr(value)
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation as exc:
        raise ValueError(f"金额格式不正确: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"金额格式不正确: {value!r}")
    if amount < 0:
        raise ValueError(f"金额不能为负数: {value!r}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"金额最多保留两位小数（到分）: {value!r}")
    if amount > MAX_AMOUNT:
        raise ValueError(f"金额超出可书写范围: {value!r}")
    return amount.quantize(CENT)


def format_amount(value: Decimal | str | float) -> str:
    """Figures with thousands separators and two decimals, exact (Decimal, never float): "320,000.00"."""
    return f"{parse_amount(value):,.2f}"


class Money(TypeDecorator):
    """An amount of money: Decimal with two places in and out; NUMERIC(16, 2) on PostgreSQL, INTEGER 分 on
    SQLite. A value the bound refuses is not written (ValueError), on either database."""

    impl = Numeric(MONEY_DIGITS, MONEY_PLACES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(MONEY_DIGITS, MONEY_PLACES, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        try:
            amount = value if isinstance(value, Decimal) else Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {value!r}") from exc
        problem = amount_problem(amount)
        if problem:
            raise ValueError(f"amount {value!r} refused: {problem}")
        return to_fen(amount) if dialect.name == "sqlite" else amount.quantize(CENT)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            # SUM of a column of 分 is 分 too (and may pass the bound: it is not stored).
            return from_fen(int(value))
        return Decimal(value).quantize(CENT)
