"""Money amounts as printed on agreements: figures and Chinese capitals (大写金额).

Capitals follow the bookkeeping rules of 《会计基础工作规范》 Art. 52 (same as bank practice):
- an amount that ends at 元 is closed with 整 ("人民币叁拾贰万元整");
- a zero inside the integer part is written as one 零, however many zeros there are
  ("壹拾万零壹佰元整"); zeros at the end of a 万/亿 section are not written;
- when 角 is zero and 分 is not, 零 stands for the missing 角 ("壹佰元零伍分");
- amounts under one 元 start at 角/分 ("人民币伍分").

Every amount up to models.money.MAX_AMOUNT (the bound the API and the database keep) is written.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from models.money import MAX_AMOUNT

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
# Above 亿 the count of 亿 is written with 万 again: 壹万亿, 玖拾玖万玖仟玖佰玖拾玖亿.
_SECTIONS = ("", "万", "亿", "万")


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
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"金额最多保留两位小数（到分）: {value!r}")
    if amount > MAX_AMOUNT:
        raise ValueError(f"金额超出可书写范围: {value!r}")
    return amount.quantize(Decimal("0.01"))


def _integer_capitals(number: int) -> str:
    digits = str(number)
    length = len(digits)
    out: list[str] = []
    pending_zero = False
    for index, char in enumerate(digits):
        power = length - 1 - index
        digit = int(char)
        if digit == 0:
            pending_zero = True
        else:
            if pending_zero:
                out.append("零")
                pending_zero = False
            out.append(_DIGITS[digit] + _UNITS[power % 4])
        if power % 4 == 0 and power > 0:
            # Close a 万/亿 section only when some digit of it is not zero.
            section = digits[max(0, index - 3) : index + 1]
            if section.strip("0"):
                out.append(_SECTIONS[power // 4])
                pending_zero = False
            elif power == 8:
                # 亿 also closes the 万亿 section above it: 壹万亿 (10^12), 壹万亿零壹仟万.
                out.append(_SECTIONS[2])
    return "".join(out)


def amount_in_chinese_capitals(value: Decimal | str | float) -> str:
    """ "320000.00" → "人民币叁拾贰万元整"; "1234.56" → "人民币壹仟贰佰叁拾肆元伍角陆分"."""
    amount = parse_amount(value)
    cents = int(amount * 100)
    yuan, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    if cents == 0:
        return "人民币零元整"
    text = ""
    if yuan:
        text += _integer_capitals(yuan) + "元"
    if jiao == 0 and fen == 0:
        return "人民币" + text + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif yuan:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return "人民币" + text


def format_amount(value: Decimal | str | float) -> str:
    """Figures with thousands separators and two decimals: "320,000.00"."""
    return f"{parse_amount(value):,.2f}"
