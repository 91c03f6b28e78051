"""Reading an amount of money from task data or a form: one rule for every program that takes amounts as input."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def money(value) -> Decimal:
    """A JSON number or string as yuan with 2 places (str() first: a float's binary tail must not leak in).
    Anything that is not a finite amount is a ValueError with a Chinese message (a step's error)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"不是金额：{value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"不是金额：{value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def multiple_text(value) -> str:
    """A multiple as people say it: 3 → "3", 2.50 → "2.5"."""
    return format(Decimal(str(value)).normalize(), "f")
