"""A recipient's monthly amount and its breakdown, from the household, its income and a local standard.

The breakdown is stored on the recipient (and shown by the API and the pages) with every figure as a decimal
string, so JSON never turns money into a float:

    {"standard": "1395.00", "area": "urban", "standard_from": "2024-07", "household_income": "800.00",
     "members": 2, "per_capita_income": "400.00", "base": "1990.00",
     "topups": [{"member": "1", "relation": "子女", "category": "minor", "rate": "0.2", "amount": "279.00"}],
     "cuts": [{"member": "0", "relation": "本人", "amount": "995.00"}],
     "adjustment": "10.00",            # only when the approver set a different amount
     "total": "2269.00"}

Members are keyed by their index in ``household["members"]`` as a string ("0", "1", …), the key the household
table of the forms uses; labour-refusal cuts (workflows.register reviews) name members by that key. The total is
rounded once, to fen; the lines are shown rounded, so they may differ from the total by a fen at most.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from ..subsidy import subsidy_parts, to_fen


class StandardLike(Protocol):
    amount: Any
    topup_rates: dict | None


def money_text(value) -> str:
    """A Decimal amount as the API writes money: "1234.50"."""
    return f"{to_fen(Decimal(str(value))):.2f}"


def household_amount(household: Mapping, monthly_income, standard: StandardLike, today: date | None, *,
                     cut_members: Collection[str] = ()) -> tuple[Decimal, dict]:
    """(monthly amount, breakdown) under `standard` (a LocalStandard or anything with .amount and .topup_rates;
    topup_rates None means the default table). ValueError (Chinese) for a household or income it cannot use."""
    parts = subsidy_parts(household, monthly_income, standard.amount, standard.topup_rates, today=today,
                          cut_members=cut_members)
    members = list(household.get("members") or [])

    def relation(key: str) -> str:
        return str(members[int(key)].get("relation") or "")

    breakdown: dict[str, Any] = {
        "standard": money_text(parts.standard),
        "area": getattr(standard, "area", None) or "urban",
        "standard_from": _month_text(getattr(standard, "effective_from", None)),
        "household_income": money_text(monthly_income),
        "members": parts.members,
        "per_capita_income": money_text(parts.per_capita),
        "base": money_text(parts.base),
        "topups": [{"member": t.member, "relation": relation(t.member), "category": t.category,
                    "rate": str(t.rate), "amount": money_text(t.amount)} for t in parts.topups],
        "cuts": [],
        "total": money_text(parts.amount),
    }
    if parts.cut and parts.gap > 0:
        per_member = {key: parts.gap for key in parts.cut}
        # Recompute each cut member's removed top-up: what the uncut calculation would have given them.
        full = subsidy_parts(household, monthly_income, standard.amount, standard.topup_rates, today=today)
        for line in full.topups:
            if line.member in per_member:
                per_member[line.member] += line.amount
        breakdown["cuts"] = [{"member": key, "relation": relation(key), "amount": money_text(value)}
                             for key, value in per_member.items()]
    return parts.amount, breakdown


def with_adjustment(breakdown: dict, amount: Decimal) -> dict:
    """The breakdown of an amount someone set by hand (the approver's 核定金额): the difference to the computed
    total is its own line, so the breakdown still adds up to what is paid."""
    computed = Decimal(breakdown["total"])
    amount = to_fen(Decimal(str(amount)))
    result = dict(breakdown)
    result.pop("adjustment", None)
    if amount != computed:
        result["computed"] = money_text(computed)
        result["adjustment"] = money_text(amount - computed)
    result["total"] = money_text(amount)
    return result


def _month_text(value) -> str | None:
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    return None
