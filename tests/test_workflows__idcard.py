"""workflows.idcard: GB 11643-1999 numbers, checked against an independent check-digit computation."""
from __future__ import annotations

from datetime import date

import pytest

from workflows.idcard import birth_date_of, check_character, mask_id_number, mask_name, validate_id_number


def iso7064_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 written out from the standard (weights 2^(17-i) mod 11), not from the module's table."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_id(region: str = "110105", born: str = "19800101", seq: str = "123") -> str:
    body = region + born + seq
    return body + iso7064_check(body)


def find_x_number() -> str:
    """Some real-format number whose check character is X."""
    for seq in range(1000):
        number = make_id(born="19491001", seq=f"{seq:03d}")
        if number.endswith("X"):
            return number
    raise AssertionError("no X number found")


def test_module_check_character_matches_the_standard():
    for seq in range(0, 1000, 7):
        body = "440304" + "19921231" + f"{seq:03d}"
        assert check_character(body) == iso7064_check(body)


@pytest.mark.parametrize("number", [
    make_id(),
    make_id("440304", "20000229", "001"),  # leap day
    make_id("650102", "19000101", "998"),
    find_x_number(),
])
def test_valid_numbers_are_accepted(number):
    assert validate_id_number(number) == number


def test_lower_case_x_and_spaces_are_normalised():
    number = find_x_number()
    assert validate_id_number(f"  {number[:-1]}x ") == number


@pytest.mark.parametrize("bad, message", [
    ("11010519800101123", "18 位"),
    ("1101051980010112345", "18 位"),
    ("", "18 位"),
    ("11010519800101A23X", "数字"),
    ("１１０１０５１９８００１０１１２３４"[:18], "数字"),  # full-width digits
    ("110105198001011231"[:17] + "Y", "数字"),
])
def test_malformed_numbers_are_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        validate_id_number(bad)


@pytest.mark.parametrize("born", ["19800230", "19810229", "19801301", "19800100", "18991231", "29990101"])
def test_impossible_birth_dates_are_rejected(born):
    with pytest.raises(ValueError, match="出生日期"):
        validate_id_number(make_id(born=born))


def test_wrong_check_character_is_rejected():
    good = make_id()
    wrong = "0" if good[-1] != "0" else "1"
    with pytest.raises(ValueError, match="校验码"):
        validate_id_number(good[:-1] + wrong)


def test_one_typo_in_the_body_is_caught():
    good = make_id()
    typo = good[:10] + str((int(good[10]) + 1) % 10) + good[11:]
    with pytest.raises(ValueError):
        validate_id_number(typo)


def test_non_string_is_rejected():
    with pytest.raises(ValueError):
        validate_id_number(110105198001011234)  # type: ignore[arg-type]


def test_birth_date_of():
    assert birth_date_of(make_id(born="19750615")) == date(1975, 6, 15)
    with pytest.raises(ValueError):
        birth_date_of("123")


def test_mask_id_number():
    number = find_x_number()
    masked = mask_id_number(number)
    assert masked == number[:6] + "********" + number[-4:]
    assert masked.endswith("X") and len(masked) == 18
    assert mask_id_number(number[:-1] + "x") == masked
    # Too short to keep 10 characters visible without revealing it all.
    assert mask_id_number("1234567890") == "**********"
    assert mask_id_number("") == ""


@pytest.mark.parametrize("name, masked", [
    ("张三", "张*"),
    ("欧阳小明", "欧**明"),
    ("王小二", "王*二"),
    (" 李四 ", "李*"),
    ("买买提·艾力", "买****力"),
    ("张", "张"),
    ("", ""),
])
def test_mask_name(name, masked):
    assert mask_name(name) == masked
