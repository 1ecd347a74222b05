"""Validation, normalisation and masking of party identifiers.

Pure functions: no database or web imports, so intake, the API schemas, document rendering and
the demo-data factories can all share them.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidComponent

__all__ = [
    "MAX_DATE",
    "MAX_DB_ID",
    "MAX_QUERY_TEXT",
    "MIN_DATE",
    "ValidationError",
    "birth_date_from_id",
    "check_date_range",
    "clean_lines",
    "clean_text",
    "gender_from_id",
    "make_id_number",
    "make_org_code",
    "mask_id_number",
    "mask_phone",
    "printable",
    "validate_id_number",
    "validate_mobile",
    "validate_org_code",
]


class ValidationError(ValueError):
    """A value failed validation; `.message` is shown to the user as is (简体中文)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Limits of what may reach the database -------------------------------------------------------

# Ids are INTEGER columns (PostgreSQL int4): a larger number names no row, and must be refused before it
# reaches a query (SQLite overflows past 2**63, PostgreSQL's INTEGER past 2**31).
MAX_DB_ID = 2_147_483_647
# A search box holds a name or a few words; a longer `q` only makes the database scan for nothing.
MAX_QUERY_TEXT = 100


# Dates the calendar, the clocks and both databases handle: a period added to 9999-12-31, or a
# week taken from 0001-01-01, overflows Python's date; PostgreSQL refuses years past 294276.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2199, 12, 31)


def check_date_range(value: date) -> date:
    """The date (or a datetime's date) itself if within MIN_DATE–MAX_DATE, else a Chinese refusal."""
    day = value.date() if isinstance(value, datetime) else value
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValidationError(f"日期超出可处理的范围（{MIN_DATE.year}–{MAX_DATE.year} 年）")
    return value


# --- Free text ----------------------------------------------------------------------------------

# Invisible characters pasted from web pages and word processors (zero-width space, joiners, word
# joiner, BOM, soft hyphen, direction marks): silently removed, since nobody means them and they make
# "the same name" compare unequal. A value made only of them becomes empty (and so "不能为空").
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060\ufeff]")
# Direction overrides and isolates re-order what is displayed (a name or a file name that reads
# differently from what is stored): refused, not stripped, so the clerk sees and retypes the value.
_BIDI_CONTROLS = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


# Unicode's noncharacters (U+FDD0–U+FDEF and the last two code points of every plane, U+FFFE, U+FFFF,
# U+1FFFE …): never text. U+FFFE and U+FFFF are outside XML 1.0's characters, so one of them in a cell
# makes the whole XLSX unreadable ("not well-formed"); the others are refused alike.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)
)
# What clean_text refuses, found in one regex pass (intake cleans every field of up to 500 parties):
# C0/C1 control characters (tab and line feed allowed in multi-line text), direction overrides and
# isolates, lone surrogates, noncharacters. Together they cover every code point XML 1.0 forbids.
_REFUSED_MULTILINE = re.compile(
    f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff{_NONCHARACTERS}]"
)
_REFUSED_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff{_NONCHARACTERS}]")


def clean_text(value: str, *, multiline: bool = True) -> str:
    """Free text as it may be stored and printed: invisible characters removed, line ends unified
    (\\r\\n → \\n), surrounding whitespace trimmed. Refused with a Chinese reason: control characters
    (NUL and the like; tabs and line breaks only in multi-line text), direction overrides, lone
    surrogates (not text at all: neither UTF-8 nor the databases can hold them) and noncharacters."""
    if not isinstance(value, str):
        raise ValidationError("应为文本")
    text = _INVISIBLE.sub("", value).replace("\r\n", "\n").replace("\r", "\n").strip()
    found = (_REFUSED_MULTILINE if multiline else _REFUSED_LINE).search(text)
    if found is None:
        return text
    char = found.group()
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        raise ValidationError("含有无法识别的字符（不成对的代理码位），请重新输入")
    if char in _BIDI_CONTROLS:
        raise ValidationError(f"含有改变文字显示方向的控制字符（U+{code:04X}），请删除后重新输入")
    if char in "\n\t":
        raise ValidationError("不能包含换行符或制表符")
    if 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:
        raise ValidationError(f"含有非文字的码位（U+{code:04X}，Unicode 非字符），请删除后重新输入")
    raise ValidationError(f"含有不可见的控制字符（U+{code:04X}），请删除后重新输入")


def clean_lines(text: str) -> str:
    """clean_text of a pasted or uploaded text read line by line (a holiday schedule, a towns list):
    the refusal names the line, 第N行：…. The text itself is returned unchanged."""
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        try:
            clean_text(line)
        except ValidationError as exc:
            raise ValidationError(f"第{number}行：{exc.message}") from None
    return text


def printable(text: str) -> str:
    """The export's second line of defence, for text stored before clean_text refused it (or written
    around it): every character clean_text refuses in multi-line text is dropped, line ends unified.
    The result is XML 1.0 text (XLSX cells, the PDF's HTML) and reads as it is stored."""
    return _REFUSED_MULTILINE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


# --- Resident identity number, GB 11643-1999 -------------------------------------------------

_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
# Earliest birth date we accept as plausible; catches mistyped century digits.
_ID_MIN_BIRTH = date(1900, 1, 1)


def _id_check_char(first17: str) -> str:
    # GB 11643-1999 §7 is ISO 7064 MOD 11-2; stdnum's function takes the number with a check character.
    # Not ric.validate(): it also refuses an address code created after the birth year (瑞安 330381
    # dates from 1987), yet the code is the one at issue, so people born earlier carry it.
    return ric.calc_check_digit(first17 + "X")


def _id_birth(value: str) -> date | None:
    try:
        return ric.get_birth_date(value)
    except InvalidComponent:
        return None


def validate_id_number(value: str, today: date | None = None) -> str:
    """Check an 18-digit resident ID (GB 11643-1999) and return it normalised (upper-case X)."""
    if not isinstance(value, str):
        raise ValidationError("身份证号必须是文本")
    v = re.sub(r"\s+", "", value).upper()
    if not v:
        raise ValidationError("身份证号不能为空")
    if len(v) != 18:
        raise ValidationError(f"身份证号应为18位，当前为{len(v)}位")
    if not _ID_RE.match(v):
        raise ValidationError("身份证号格式不正确：前17位须为数字，末位为数字或X")
    if v[0] == "0":
        raise ValidationError("身份证号地址码不正确")
    birth = _id_birth(v)
    if birth is None:
        raise ValidationError("身份证号中的出生日期不是有效日期")
    if birth > (today or date.today()):
        raise ValidationError("身份证号中的出生日期晚于今天")
    if birth < _ID_MIN_BIRTH:
        raise ValidationError("身份证号中的出生日期早于1900年，请核对")
    if _id_check_char(v[:17]) != v[17]:
        raise ValidationError("身份证号校验位不正确")
    return v


def birth_date_from_id(value: str) -> date:
    """Birth date encoded in positions 7–14 of a valid resident ID."""
    v = validate_id_number(value)
    birth = _id_birth(v)
    assert birth is not None  # validate_id_number has checked it
    return birth


def gender_from_id(value: str) -> str:
    """'男' or '女': GB 11643-1999 §5.3, the sequence code is odd for men and even for women."""
    v = validate_id_number(value)
    return "男" if int(v[16]) % 2 == 1 else "女"


def make_id_number(region: str = "330381", birth: date = date(1980, 1, 1), seq: int = 123) -> str:
    """Build a checksum-valid resident ID, for demo data and test factories."""
    if not re.fullmatch(r"[1-9][0-9]{5}", region):
        raise ValueError("region must be a 6-digit administrative code")
    if not 0 <= seq <= 999:
        raise ValueError("seq must be 0..999")
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + _id_check_char(first17)


def mask_id_number(value: str) -> str:
    """Keep the first 6 (region) and last 4 characters: '330381********123X'."""
    v = re.sub(r"\s+", "", value or "").upper()
    if len(v) <= 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


# --- Telephone numbers ------------------------------------------------------------------------

# Mobile numbers: 11 digits, 1 followed by 3–9 (MIIT numbering plan).
_MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
# Landline: area code 0 + 2–3 digits, local number 7–8 digits not starting with 0 or 1.
_LANDLINE_RE = re.compile(r"^(0[1-9][0-9]{1,2})-([2-9][0-9]{6,7})$")


def _landline_split(digits: str) -> tuple[str, str] | None:
    """Split an unseparated landline: area codes 010 and 02x have 3 digits, all others 4."""
    if not digits.startswith("0") or len(digits) < 3:  # "0" alone, or "01": no area code to split off
        return None
    area_len = 3 if digits[1] in "12" else 4
    return digits[:area_len], digits[area_len:]


def validate_mobile(value: str) -> str:
    """Check a phone number; returns '13812345678' for mobiles or '0577-65812345' for landlines."""
    if not isinstance(value, str):
        raise ValidationError("电话号码必须是文本")
    raw = value.strip()
    if not raw:
        raise ValidationError("电话号码不能为空")
    compact = re.sub(r"[\s\-()（）]", "", raw)
    if not re.fullmatch(r"\+?[0-9]+", compact):
        raise ValidationError("电话号码只能包含数字、空格、连字符和国家代码+86")
    if compact.startswith("+"):
        if not compact.startswith("+86"):
            raise ValidationError("仅支持中国大陆电话号码（+86）")
        compact = compact[3:]
    elif compact.startswith("0086"):
        compact = compact[4:]
    elif compact.startswith("86") and len(compact) == 13:
        compact = compact[2:]

    if compact.startswith("1"):
        if len(compact) != 11:
            raise ValidationError(f"手机号码应为11位，当前为{len(compact)}位")
        if not _MOBILE_RE.match(compact):
            raise ValidationError("手机号码号段不正确，应以13–19开头")
        return compact

    if compact.startswith("0"):
        # Honour the user's own separator when there is one; otherwise split by the area-code rule.
        m = re.fullmatch(r"[\s(（]*(0[0-9]+)[\s)）\-]+([0-9][0-9\s\-]*)", raw)
        if m:
            area, local = m.group(1), re.sub(r"[\s\-]", "", m.group(2))
        else:
            split = _landline_split(compact)
            if split is None:
                raise ValidationError("固定电话格式不正确，应为区号加7–8位号码，如0577-65812345")
            area, local = split
        normalised = f"{area}-{local}"
        if not _LANDLINE_RE.match(normalised):
            raise ValidationError("固定电话格式不正确，应为区号加7–8位号码，如0577-65812345")
        return normalised

    raise ValidationError("电话号码格式不正确，应为11位手机号或带区号的固定电话")


def mask_email(value: str) -> str:
    """'w***@example.com': the first character of the mailbox and the domain."""
    local, _at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str) -> str:
    """'138****5678' for mobiles; landlines keep the area code and the last 4 digits."""
    try:
        v = validate_mobile(value)
    except ValidationError:
        digits = re.sub(r"\D", "", value or "")
        return "*" * max(len(digits) - 4, 0) + digits[-4:]
    if "-" in v:
        area, local = v.split("-", 1)
        return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"
    return v[:3] + "****" + v[-4:]


# --- Unified social credit code, GB 32100-2015 ------------------------------------------------

# GB 32100-2015 §4: the 31 characters used, in value order 0..30 (no I, O, Z, S, V).
_USCC_CHARS = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")


def _uscc_check_char(base17: str) -> str:
    # Only the check character comes from stdnum: its validate() also requires positions 1–2 to be
    # digits, which refuses real codes whose registration authority is a letter (N 农业, Y 其他).
    return uscc.calc_check_digit(base17)


def validate_org_code(value: str) -> str:
    """Check an 18-character unified social credit code (GB 32100-2015); returns it upper-cased."""
    if not isinstance(value, str):
        raise ValidationError("统一社会信用代码必须是文本")
    v = re.sub(r"\s+", "", value).upper()
    if not v:
        raise ValidationError("统一社会信用代码不能为空")
    if len(v) != 18:
        raise ValidationError(f"统一社会信用代码应为18位，当前为{len(v)}位")
    bad = sorted({c for c in v if c not in _USCC_CHARS})
    if bad:
        raise ValidationError(f"统一社会信用代码含有不允许的字符：{'、'.join(bad)}（不使用I、O、Z、S、V）")
    # Positions 3–8 are the administrative division code (GB/T 2260), always digits.
    if not v[2:8].isdigit():
        raise ValidationError("统一社会信用代码第3–8位应为行政区划码（数字）")
    if _uscc_check_char(v[:17]) != v[17]:
        raise ValidationError("统一社会信用代码校验位不正确")
    return v


def make_org_code(base17: str) -> str:
    """Append the GB 32100-2015 check character to 17 code characters."""
    b = base17.upper()
    if len(b) != 17 or any(c not in _USCC_CHARS for c in b):
        raise ValueError("base17 must be 17 characters from 0-9 A-H J-N P-R T-U W-Y")
    return b + _uscc_check_char(b)
