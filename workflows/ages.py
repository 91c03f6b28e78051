"""Age in whole years: the one place that counts birthdays (特困's age test, the aid register's school age, the
specialised programs' age rules)."""
from __future__ import annotations

from datetime import date


def age_on(birth, today: date) -> int | None:
    """Whole years on `today` from a birth date (a date, or an ISO "YYYY-MM-DD…" string); None when missing or
    unreadable. A birthday counts on its day (born 29 Feb: a year older from 1 Mar in other years)."""
    if isinstance(birth, date):
        born = birth
    elif isinstance(birth, str) and len(birth) >= 10:
        try:
            born = date.fromisoformat(birth[:10])
        except ValueError:
            return None
    else:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
