"""Which cases the district civil-affairs bureau visits before deciding (低保 入户抽查).

The rule (京政发〔2013〕24号, 民发〔2012〕220号): home visits for not less than 30% of cases, and for every
relatives-filed, objected or reported case. This module is the pure decision; the caller keeps the per-district
counters and must read and update them under one lock, so that two concurrent decisions cannot both rely on the
same slack.
"""

from __future__ import annotations

import random
from fractions import Fraction


def must_visit(
    decided_before: int,
    visited_before: int,
    mandatory: bool,
    rng: random.Random,
    base_rate: float = 0.35,
    floor: float = 0.30,
) -> bool:
    """Decide whether the current case gets a district home visit.

    ``decided_before`` and ``visited_before`` count the earlier cases of the same pool (district and program).

    Why the visited share never drops below ``floor`` at any point, not just on average: suppose it held before
    this case, ``visited_before / decided_before >= floor`` (trivially true for an empty pool). If this case is
    visited, the share becomes ``(v + 1) / (d + 1)``, which is at least ``v / d`` whenever ``v / d <= 1``, so it
    still holds. If it is skipped, the share becomes ``v / (d + 1)`` — and skipping is only allowed when that is
    ``>= floor``; otherwise the visit is forced. By induction the share is at least ``floor`` after every single
    decision (the very first case is therefore always visited). The comparison uses exact fractions, so 3 of 10
    counts as 30% rather than falling a rounding error short.

    Above the floor a case is picked with probability ``base_rate`` from ``rng``. Production passes
    ``random.SystemRandom()``, so nobody can tell from the order of applications whether theirs will be visited;
    ``base_rate`` sits a little above ``floor`` so the forced, predictable visits stay rare.
    """
    if decided_before < 0 or visited_before < 0 or visited_before > decided_before:
        raise ValueError("抽查计数无效：已抽查数不能为负，也不能超过已决定数")
    if not 0 <= floor <= 1 or not 0 <= base_rate <= 1:
        raise ValueError("抽查比例必须在 0 到 1 之间")
    if mandatory:
        return True
    share_if_skipped = Fraction(visited_before, decided_before + 1)
    # str(): Fraction(0.3) is the binary float, slightly above 3/10.
    if share_if_skipped < Fraction(str(floor)):
        return True
    return rng.random() < base_rate
