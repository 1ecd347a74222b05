"""Resident ID, phone and unified social credit code validation and masking."""

from __future__ import annotations

from datetime import date

import pytest

from models.validation import (
    MAX_DATE,
    MIN_DATE,
    ValidationError,
    birth_date_from_id,
    check_date_range,
    clean_lines,
    clean_text,
    gender_from_id,
    make_id_number,
    make_org_code,
    mask_id_number,
    mask_phone,
    printable,
    validate_id_number,
    validate_mobile,
    validate_org_code,
)

# --- resident ID (GB 11643-1999) ---

VALID_IDS = [
    "11010519491231002X",  # the example in GB 11643-1999
    "11010119900307803X",
    "330381198001011236",
    "330381198506151242",
    "110101200002290018",  # born on a leap day
    "440305199012319985",
]


@pytest.mark.parametrize("value", VALID_IDS)
def test_valid_id_numbers(value: str) -> None:
    assert validate_id_number(value) == value


def test_id_normalisation() -> None:
    assert validate_id_number(" 110105 19491231 002x ") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "身份证号不能为空"),
        ("11010519491231002", "身份证号应为18位，当前为17位"),
        ("1101051949123100X2", "身份证号格式不正确：前17位须为数字，末位为数字或X"),
        ("11010519491231002Y", "身份证号格式不正确：前17位须为数字，末位为数字或X"),
        ("01010519491231002X", "身份证号地址码不正确"),
        ("110105194902300025", "身份证号中的出生日期不是有效日期"),  # 30 Feb
        ("110105194913310025", "身份证号中的出生日期不是有效日期"),  # month 13
        ("440524188001010014", "身份证号中的出生日期早于1900年，请核对"),
        ("110105194912310021", "身份证号校验位不正确"),
    ],
)
def test_invalid_id_numbers(value: str, message: str) -> None:
    with pytest.raises(ValidationError) as e:
        validate_id_number(value)
    assert e.value.message == message
    assert isinstance(e.value, ValueError)


def test_id_birth_in_future() -> None:
    future = make_id_number(birth=date(2030, 5, 1))
    with pytest.raises(ValidationError) as e:
        validate_id_number(future, today=date(2026, 1, 1))
    assert e.value.message == "身份证号中的出生日期晚于今天"
    assert validate_id_number(future, today=date(2030, 5, 1)) == future


def test_id_single_digit_typo_is_caught() -> None:
    good = "330381198001011236"
    for i in range(17):
        typo = good[:i] + str((int(good[i]) + 1) % 10) + good[i + 1 :]
        with pytest.raises(ValidationError):
            validate_id_number(typo)


def test_birth_and_gender() -> None:
    assert birth_date_from_id("11010519491231002X") == date(1949, 12, 31)
    assert gender_from_id("11010519491231002X") == "女"  # sequence 002: even
    assert gender_from_id(make_id_number(seq=123)) == "男"
    assert gender_from_id(make_id_number(seq=124)) == "女"
    with pytest.raises(ValidationError):
        gender_from_id("110105194912310021")


def test_make_id_number() -> None:
    assert make_id_number() == "330381198001011236"
    assert make_id_number("110105", date(1949, 12, 31), 2) == "11010519491231002X"
    assert birth_date_from_id(make_id_number(birth=date(1975, 7, 9))) == date(1975, 7, 9)
    with pytest.raises(ValueError):
        make_id_number(region="33038")
    with pytest.raises(ValueError):
        make_id_number(seq=1000)


def test_mask_id_number() -> None:
    assert mask_id_number("33038119800101123X") == "330381********123X"
    assert mask_id_number("11010519491231002x") == "110105********002X"
    assert mask_id_number("12345") == "*****"


# --- phones ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("0577-65812345", "0577-65812345"),
        ("0577 6581234", "0577-6581234"),
        ("057765812345", "0577-65812345"),
        ("(0577)65812345", "0577-65812345"),
        ("010-82345678", "010-82345678"),
        ("01082345678", "010-82345678"),
        ("02161234567", "021-61234567"),
    ],
)
def test_valid_phones(value: str, expected: str) -> None:
    assert validate_mobile(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "电话号码不能为空"),
        ("1381234567", "手机号码应为11位，当前为10位"),
        ("12812345678", "手机号码号段不正确，应以13–19开头"),
        ("138abc45678", "电话号码只能包含数字、空格、连字符和国家代码+86"),
        ("+1 415 555 0100", "仅支持中国大陆电话号码（+86）"),
        ("0577-123", "固定电话格式不正确，应为区号加7–8位号码，如0577-65812345"),
        ("0577-012345678", "固定电话格式不正确，应为区号加7–8位号码，如0577-65812345"),
        ("65812345", "电话号码格式不正确，应为11位手机号或带区号的固定电话"),
        # Too short to hold an area code: refused, not an IndexError (issue 12).
        ("0", "固定电话格式不正确，应为区号加7–8位号码，如0577-65812345"),
        ("01", "固定电话格式不正确，应为区号加7–8位号码，如0577-65812345"),
        ("0577", "固定电话格式不正确，应为区号加7–8位号码，如0577-65812345"),
        ("+86", "电话号码格式不正确，应为11位手机号或带区号的固定电话"),
    ],
)
def test_invalid_phones(value: str, message: str) -> None:
    with pytest.raises(ValidationError) as e:
        validate_mobile(value)
    assert e.value.message == message


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("0577-65812345") == "0577-****2345"
    assert mask_phone("010-8234567") == "010-***4567"
    assert mask_phone("65812345") == "****2345"  # unparseable: still never shows it whole


# --- unified social credit code (GB 32100-2015) ---

VALID_ORG_CODES = [
    "91350100M000100Y43",  # the example in GB 32100-2015
    "91440300708461136T",
    "91110000802100433B",
    "91330381MA2AB1234E",
    "12330381002517891G",
]


@pytest.mark.parametrize("value", VALID_ORG_CODES)
def test_valid_org_codes(value: str) -> None:
    assert validate_org_code(value) == value


def test_org_code_normalisation() -> None:
    assert validate_org_code(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "统一社会信用代码不能为空"),
        ("91350100M000100Y4", "统一社会信用代码应为18位，当前为17位"),
        ("91350100M00010OY43", "统一社会信用代码含有不允许的字符：O（不使用I、O、Z、S、V）"),
        ("91350100M0001I0Y4S", "统一社会信用代码含有不允许的字符：I、S（不使用I、O、Z、S、V）"),
        ("913501A0M000100Y43", "统一社会信用代码第3–8位应为行政区划码（数字）"),
        ("91350100M000100Y44", "统一社会信用代码校验位不正确"),
    ],
)
def test_invalid_org_codes(value: str, message: str) -> None:
    with pytest.raises(ValidationError) as e:
        validate_org_code(value)
    assert e.value.message == message


def test_make_org_code() -> None:
    assert make_org_code("91350100M000100Y4") == "91350100M000100Y43"
    assert make_org_code("91440300708461136") == "91440300708461136T"
    # A check value of 0 maps to "0", not "31".
    codes = [make_org_code(f"9133038100000{i:04d}") for i in range(200)]
    assert all(validate_org_code(c) == c for c in codes)
    assert any(c.endswith("0") for c in codes)
    with pytest.raises(ValueError):
        make_org_code("91350100M000100Y")
    with pytest.raises(ValueError):
        make_org_code("91350100M000100O4")


# --- free text (issue 12: never stored garbage) ---


@pytest.mark.parametrize(
    ("value", "multiline", "expected"),
    [
        ("  张三  ", False, "张三"),
        ("\ufeff张\u200b三\u200d", False, "张三"),  # BOM, zero-width space and joiner removed
        ("\u200b\u2060\u00ad", False, ""),  # only invisible characters: nothing left ("不能为空")
        ("第一行\r\n第二行\r第三行", True, "第一行\n第二行\n第三行"),
        ("甲\t乙", True, "甲\t乙"),
        ("𠀀𪚥𱍐", False, "𠀀𪚥𱍐"),  # CJK Ext B and Ext H (Unicode 15): real names, kept
        ("O'Brien 张-三（代）", False, "O'Brien 张-三（代）"),
        # The neighbours of the noncharacters are characters: kept.
        ("\ufdcf\ufdf0\ufffd\U0001fffd\U0010fffd", False, "\ufdcf\ufdf0\ufffd\U0001fffd\U0010fffd"),
    ],
)
def test_clean_text_keeps_text_and_drops_invisibles(value: str, multiline: bool, expected: str) -> None:
    assert clean_text(value, multiline=multiline) == expected


@pytest.mark.parametrize(
    ("value", "multiline", "words"),
    [
        ("张\x00三", True, "U+0000"),
        ("张\x07三", True, "U+0007"),
        ("张\x1b[31m三", True, "U+001B"),
        ("张\x7f三", True, "U+007F"),
        ("张\x85三", True, "U+0085"),
        ("张\n三", False, "换行符"),
        ("张\t三", False, "制表符"),
        ("张\u202e三李", True, "U+202E"),
        ("\u202a张三", False, "U+202A"),
        ("张\u2066三\u2069", True, "U+2066"),
        ("张\u2068三", True, "U+2068"),
        ("张\ud800三", True, "代理码位"),
        ("\udfff", False, "代理码位"),
        ("张\r三", False, "换行符"),
        ("张\x0b三", True, "U+000B"),
        ("张\x0c三", True, "U+000C"),
        ("张\ufffe三", True, "U+FFFE"),
        ("\uffff", False, "U+FFFF"),
        ("张\ufdd0三", True, "U+FDD0"),
        ("张\ufdef三", True, "U+FDEF"),
        ("张\U0001fffe三", True, "U+1FFFE"),
        ("张\U0002ffff三", False, "U+2FFFF"),
        ("\U0010ffff", True, "U+10FFFF"),
    ],
)
def test_clean_text_refuses_control_override_and_surrogates(value: str, multiline: bool, words: str) -> None:
    with pytest.raises(ValidationError) as e:
        clean_text(value, multiline=multiline)
    assert words in e.value.message


def _xml_char(code: int) -> bool:
    """XML 1.0 (Fifth Edition) §2.2, production [2] Char."""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


# Unicode §23.7: the 66 noncharacters.
NONCHARACTERS = [
    *range(0xFDD0, 0xFDF0),
    *(plane * 0x10000 + low for plane in range(17) for low in (0xFFFE, 0xFFFF)),
]
XML_FORBIDDEN = [c for c in range(0x110000) if not _xml_char(c)]


def test_every_code_point_xml_forbids_and_every_noncharacter_is_refused() -> None:
    assert len(NONCHARACTERS) == 66 and len(XML_FORBIDDEN) == 29 + 2048 + 2
    for code in {*XML_FORBIDDEN, *NONCHARACTERS} - {0x9, 0xA, 0xD}:
        for multiline in (True, False):
            with pytest.raises(ValidationError):
                clean_text(f"甲{chr(code)}乙", multiline=multiline)
    # A carriage return is a line end: kept (as \n) in long text, refused in a one-line field.
    assert clean_text("甲\r乙") == "甲\n乙"
    with pytest.raises(ValidationError):
        clean_text("甲\r乙", multiline=False)


def test_printable_leaves_xml_that_parses_and_keeps_everything_else() -> None:
    import xml.etree.ElementTree as ET

    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    kept = printable(everything + "\ud800")  # and a lone surrogate, which no database could have stored
    root = ET.fromstring(f"<a>{kept.replace('&', '&amp;').replace('<', '&lt;')}</a>".encode())
    assert root.text == kept
    dropped = {c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF} - {ord(c) for c in kept}
    expected = (
        {c for c in XML_FORBIDDEN if not 0xD800 <= c <= 0xDFFF}
        | set(NONCHARACTERS)
        | set(range(0x7F, 0xA0))  # C1 controls
        | {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}  # overrides, isolates
        | {0xD}  # a carriage return becomes a line feed
    ) - {0x9, 0xA}
    assert dropped == expected
    assert printable("第一行\r\n第二行\r第三行\t完") == "第一行\n第二行\n第三行\t完"
    assert printable("两户\ufffe争执\x01，\U0010ffff𠀀") == "两户争执，𠀀"


def test_clean_lines_names_the_line() -> None:
    text = "2031-01-01 holiday 元旦\r\n2031-01-02 holiday\n2031-10-01 holiday 国庆\ufffe"
    with pytest.raises(ValidationError) as e:
        clean_lines(text)
    assert e.value.message.startswith("第3行：") and "U+FFFE" in e.value.message
    assert clean_lines("甲\t乙\n丙") == "甲\t乙\n丙"


def test_date_range() -> None:
    assert (date(1900, 1, 1), date(2199, 12, 31)) == (MIN_DATE, MAX_DATE)
    assert check_date_range(date(2026, 11, 25)) == date(2026, 11, 25)
    for bad in (date(1, 1, 1), date(1899, 12, 31), date(2200, 1, 1), date(9999, 12, 31)):
        with pytest.raises(ValidationError) as e:
            check_date_range(bad)
        assert "1900–2199" in e.value.message
