"""Chinese resident identity numbers (GB 11643-1999): validation, birth date and masking for display.

An 18-character number is a 6-digit region code, an 8-digit birth date (YYYYMMDD), a 3-digit sequence number and
a check character computed with ISO 7064 MOD 11-2 over the first 17 digits ('X' stands for 10).

Masking exists because public notices (公示) and most screens must never show a full ID number or full name.
"""

from __future__ import annotations

from datetime import date

from engine import clock

# Weight of digit i is 2**(17 - i) mod 11; the check character is indexed by the weighted sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

# GB 11643 numbers were introduced for people alive in the 20th century; an earlier "birth date" is a typo.
_EARLIEST_BIRTH = date(1900, 1, 1)


def check_character(first17: str) -> str:
    """The check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("身份证号前 17 位必须是数字")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _parse_birth(digits: str) -> date:
    try:
        born = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise ValueError("身份证号中的出生日期不存在") from None
    # Today on the engine's clock in Shanghai, not the server's own date (a simulated clock may be anywhere).
    if born < _EARLIEST_BIRTH or born > clock.now().astimezone(clock.SHANGHAI).date():
        raise ValueError("身份证号中的出生日期不合理")
    return born


def validate_id_number(s: str) -> str:
    """Return the ID number normalised (trimmed, upper-case X); raise ValueError with a Chinese message."""
    if not isinstance(s, str):
        raise ValueError("身份证号必须是文本")
    number = s.strip().upper()
    if len(number) != 18:
        raise ValueError(f"身份证号应为 18 位，实际为 {len(number)} 位")
    body, check = number[:17], number[17]
    # isascii(): full-width digits such as '１' pass isdigit() but are not valid in an ID number.
    if not body.isascii() or not body.isdigit() or not (check.isdigit() or check == "X"):
        raise ValueError("身份证号前 17 位必须是数字，最后一位为数字或 X")
    _parse_birth(body[6:14])
    if check_character(body) != check:
        raise ValueError("身份证号校验码不正确，请核对是否输错")
    return number


def birth_date_of(id_number: str) -> date:
    """Birth date encoded in a (valid) ID number."""
    return _parse_birth(validate_id_number(id_number)[6:14])


def mask_id_number(s: str) -> str:
    """Keep the first 6 and last 4 characters: ``110105********123X``. Short input is masked entirely."""
    number = (s or "").strip().upper()
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧**明: the first character stays; for three or more, the last one too."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
