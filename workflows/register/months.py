"""Months as "YYYY-MM" strings: they sort and compare as text, which is how the tables store them."""
from __future__ import annotations

import re
from datetime import date

MONTH_PATTERN = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")  # ASCII digits: \d also takes "２０２４"


def parse_month(text: str) -> tuple[int, int]:
    """(year, month) of "YYYY-MM"; ValueError with a Chinese message otherwise."""
    # fullmatch, not match with "$": "$" also matches before a trailing newline ("2024-12\n" would pass).
    match = MONTH_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError("月份格式应为 YYYY-MM")
    return int(match.group(1)), int(match.group(2))


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(month: str, count: int) -> str:
    year, number = parse_month(month)
    index = year * 12 + (number - 1) + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def next_month(month: str) -> str:
    return add_months(month, 1)


def first_day(month: str) -> date:
    year, number = parse_month(month)
    return date(year, number, 1)


def last_day(month: str) -> date:
    """The last day of a "YYYY-MM" month."""
    return date.fromordinal(first_day(add_months(month, 1)).toordinal() - 1)


def add_months_to_date(day: date, count: int) -> date:
    """The same day `count` months later, clamped to the month's last day (31 Aug + 6 → 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + count
    year, month = index // 12, index % 12 + 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    last = (following - date.resolution).day
    return date(year, month, min(day.day, last))
