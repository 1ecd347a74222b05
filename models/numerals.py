"""Numbers written in Chinese words, as statutes number their articles and documents their clauses.

一, 十, 十二, 二十, 一百零五, 一百一十, 一千零五, 一万零五: a gap of zeros inside a number is read as one 零,
zeros at its end are not read, and a leading 一十 is said 十.
"""

from __future__ import annotations

_DIGITS = "零一二三四五六七八九"
_UNITS = ("", "十", "百", "千")
_WAN = 10_000


def _below_wan(number: int) -> str:
    """1 ≤ number < 10000, with 一十 kept (the caller shortens it only at the very start)."""
    out = ""
    gap = False
    for power in range(3, -1, -1):
        digit = number // 10**power % 10
        if digit == 0:
            gap = bool(out)
            continue
        if gap:
            out += "零"
            gap = False
        out += _DIGITS[digit] + _UNITS[power]
    return out


def chinese_number(number: int) -> str:
    """105 → 一百零五, 10 → 十, 110 → 一百一十, 1005 → 一千零五 (up to 99999999)."""
    if not 0 <= number < _WAN * _WAN:
        raise ValueError(number)
    if number == 0:
        return _DIGITS[0]
    high, low = divmod(number, _WAN)
    out = ""
    if high:
        out = _below_wan(high) + "万"
        if low and low < 1000:
            out += "零"  # 一万零五: the 千 place of the lower section is empty
    if low:
        out += _below_wan(low)
    # 十二, 十万: said without the 一 at the very start only (一百一十, 一千零一十 keep theirs).
    return out[1:] if out.startswith("一十") else out
