"""Check characters now come from python-stdnum: expectations worked out by hand from the standards.

GB 11643-1999 §7: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, remainder mod 11 → "10X98765432".
GB 32100-2015: character values 0–9, A=10 … Y=30 (no I O Z S V), weights
1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28, check value 31 − (sum mod 31), 31 → 0.
"""

from __future__ import annotations

from datetime import date

import pytest

from models.validation import (
    ValidationError,
    birth_date_from_id,
    gender_from_id,
    make_id_number,
    make_org_code,
    validate_id_number,
    validate_org_code,
)

# 3·7+2·9+0·10+1·5+0·8+2·4+1·2+9·1+8·6+5·3+0·7+6·9+1·10+2·5+0·8+3·4+7·2 = 226; 226 mod 11 = 6 → "6"
ID_NANJING = "320102198506120376"
# 4·7+4·9+0+1·5+0+6·4+1·2+9·1+9·6+2·3+0+2·9+2·10+9·5+0+5·4+5·2 = 277; 277 mod 11 = 2 → "X"
ID_LEAP_DAY_X = "44010619920229055X"

# N=22 2 3 3 0 3 8 1 M=21 F=15 0 0 0 0 0 0 1: 22+6+27+81+0+78+128+17+420+435+28 = 1242;
# 1242 mod 31 = 2 → 29 → "X". Registration authority N (农业): a letter in position 1.
ORG_FARM_COOP = "N2330381MF0000001X"
# 5 1 3 3 0 3 8 1 M=21 J=18 8 7 6 5 4 3 2: sum 1926; 1926 mod 31 = 4 → 27 → "U"
ORG_SOCIETY = "51330381MJ8765432U"


def test_hand_computed_id_numbers_are_accepted_and_built() -> None:
    assert validate_id_number(ID_NANJING) == ID_NANJING
    assert validate_id_number(ID_LEAP_DAY_X) == ID_LEAP_DAY_X
    assert make_id_number("320102", date(1985, 6, 12), 37) == ID_NANJING
    assert make_id_number("440106", date(1992, 2, 29), 55) == ID_LEAP_DAY_X
    assert birth_date_from_id(ID_LEAP_DAY_X) == date(1992, 2, 29)
    assert gender_from_id(ID_LEAP_DAY_X) == "男"  # sequence 055: odd


def test_lowercase_x_is_normalised() -> None:
    assert validate_id_number("440106 19920229 055x") == ID_LEAP_DAY_X


@pytest.mark.parametrize("wrong", ["320102198506120377", "32010219850612037X", "440106199202290550"])
def test_wrong_id_check_character_is_refused_in_chinese(wrong: str) -> None:
    with pytest.raises(ValidationError) as e:
        validate_id_number(wrong)
    assert e.value.message == "身份证号校验位不正确"


def test_address_code_newer_than_the_birth_year_is_accepted() -> None:
    # 瑞安 became 330381 in 1987; a resident born in 1980 carries it (stdnum's ric.validate refuses it).
    assert validate_id_number("330381198001011236") == "330381198001011236"


def test_hand_computed_org_codes_are_accepted_and_built() -> None:
    assert validate_org_code(ORG_FARM_COOP) == ORG_FARM_COOP
    assert validate_org_code(ORG_SOCIETY) == ORG_SOCIETY
    assert make_org_code("N2330381MF0000001") == ORG_FARM_COOP
    assert make_org_code("51330381mj8765432") == ORG_SOCIETY
    assert validate_org_code("n2330381mf0000001x") == ORG_FARM_COOP


@pytest.mark.parametrize("wrong", ["N2330381MF0000001Y", "51330381MJ8765432T", "51330381MJ87654320"])
def test_wrong_org_check_character_is_refused_in_chinese(wrong: str) -> None:
    with pytest.raises(ValidationError) as e:
        validate_org_code(wrong)
    assert e.value.message == "统一社会信用代码校验位不正确"


def test_messages_for_other_faults_are_unchanged() -> None:
    with pytest.raises(ValidationError) as e:
        validate_id_number("440106199202300517")  # 30 February
    assert e.value.message == "身份证号中的出生日期不是有效日期"
    with pytest.raises(ValidationError) as e:
        validate_org_code("N2330381MF000000IX")
    assert e.value.message == "统一社会信用代码含有不允许的字符：I（不使用I、O、Z、S、V）"
