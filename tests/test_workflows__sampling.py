"""workflows.sampling: the visited share never drops below 30%, and the optional picks are random."""
from __future__ import annotations

import random
from fractions import Fraction

import pytest

from workflows.sampling import must_visit


class Never(random.Random):
    """An rng that never picks by chance, so only the floor and mandatory cases cause visits."""

    def random(self):
        return 0.999999


def simulate(n: int, rng: random.Random, mandatory_share: float, flags_rng: random.Random):
    decided = visited = 0
    picks = []  # decisions for non-mandatory cases, in order
    shares = []
    for _ in range(n):
        mandatory = flags_rng.random() < mandatory_share
        visit = must_visit(decided, visited, mandatory, rng)
        if mandatory:
            assert visit
        else:
            picks.append(visit)
        decided += 1
        visited += visit
        shares.append(Fraction(visited, decided))
    return shares, picks


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_share_is_at_least_30_percent_after_every_decision(seed):
    shares, picks = simulate(10_000, random.Random(seed), 0.1, random.Random(seed + 100))
    assert min(shares) >= Fraction(3, 10)
    # Roughly base_rate of the optional cases are picked: well above the floor, far from all of them.
    assert 0.30 <= sum(picks) / len(picks) <= 0.40


def test_floor_holds_exactly_when_chance_never_picks():
    shares, picks = simulate(10_000, Never(), 0.0, random.Random(7))
    assert min(shares) >= Fraction(3, 10)
    # Visits are then only the forced ones: the share hugs the floor instead of drifting up.
    assert shares[-1] < Fraction(31, 100)


def test_first_case_is_always_visited():
    assert must_visit(0, 0, False, Never()) is True


def test_mandatory_cases_are_always_visited():
    assert must_visit(100, 100, True, Never()) is True


def test_thirty_percent_exactly_allows_a_skip():
    # Skipping the 10th case leaves 3 of 10 = 30%: allowed (no float rounding forcing a visit).
    assert must_visit(9, 3, False, Never()) is False
    assert must_visit(9, 2, False, Never()) is True


def test_optional_picks_are_not_a_fixed_pattern():
    _, picks_a = simulate(10_000, random.Random(11), 0.1, random.Random(5))
    _, picks_b = simulate(10_000, random.Random(12), 0.1, random.Random(5))
    # Same applications, different randomness: different cases are picked.
    assert picks_a != picks_b
    # No short period: a sequence repeating every k cases would agree with itself shifted by k.
    for k in range(1, 51):
        agreement = sum(a == b for a, b in zip(picks_a, picks_a[k:], strict=False)) / (len(picks_a) - k)
        assert agreement < 0.9, k
    # Runs of skips vary in length, as they do for independent draws.
    runs, current = set(), 0
    for pick in picks_a:
        if pick:
            runs.add(current)
            current = 0
        else:
            current += 1
    assert len(runs) >= 5


def test_system_random_keeps_the_floor():
    shares, _ = simulate(2_000, random.SystemRandom(), 0.05, random.Random(3))
    assert min(shares) >= Fraction(3, 10)


@pytest.mark.parametrize("args", [(-1, 0), (3, 4), (0, -1)])
def test_invalid_counters_are_rejected(args):
    with pytest.raises(ValueError):
        must_visit(*args, False, random.Random(1))


def test_invalid_rates_are_rejected():
    with pytest.raises(ValueError):
        must_visit(1, 1, False, random.Random(1), base_rate=1.5)
    with pytest.raises(ValueError):
        must_visit(1, 1, False, random.Random(1), floor=-0.1)
