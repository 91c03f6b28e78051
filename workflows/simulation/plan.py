"""When which application arrives, where, and what becomes of it — decided before the run, so that two runs of one
scenario (or two staffing options of it) see exactly the same applications.

A month's arrivals of a program are split between the streets by their shares (largest remainder, so the street
counts add up to the month's figure) and each street's count is spread evenly over the month's working days
(`spread`: day i gets ⌊(i+1)·n/W⌋ − ⌊i·n/W⌋). Days before the start or after the end of the run are not simulated,
so a run starting mid-month sees that month's remaining working days' share. Communities of a street take turns.

Every case draws its fate (refused at 受理, objected during the notice, …) from one generator seeded by the scenario,
in arrival order, with the same number of draws per case: capacity never changes who is refused.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from ..demo_cases import HOUSEHOLDS
from .scenario import Outcomes, Scenario


@dataclass(frozen=True)
class Fate:
    not_accepted: bool = False
    relatives_filed: bool = False
    check_failed: bool = False
    street_refused: bool = False
    objected: bool = False
    district_refused: bool = False


@dataclass(frozen=True)
class Arrival:
    number: int  # 1, 2, … over the whole run, in arrival order
    day: date
    program: str
    street: str
    community: str
    household: str  # a key of workflows.demo_cases.HOUSEHOLDS
    fate: Fate


def days(first: date, end: date) -> Iterator[date]:
    day = first
    while day < end:
        yield day
        day += timedelta(days=1)


def months_between(first: date, end: date) -> list[tuple[int, int]]:
    """(year, month) of every month that has a day in [first, end)."""
    out: list[tuple[int, int]] = []
    year, month = first.year, first.month
    while date(year, month, 1) < end:
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def month_days(year: int, month: int) -> list[date]:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return list(days(date(year, month, 1), following))


def spread(count: int, slots: int) -> list[int]:
    """`count` items over `slots` as evenly as whole numbers allow; the later slots get the extra ones."""
    if slots <= 0:
        return []
    return [(i + 1) * count // slots - i * count // slots for i in range(slots)]


def split(count: int, shares: dict[str, float]) -> dict[str, int]:
    """`count` split by `shares` (summing to 1) with the largest-remainder rule; ties go to the earlier key."""
    exact = {key: count * share for key, share in shares.items()}
    result = {key: int(value) for key, value in exact.items()}
    left = count - sum(result.values())
    order = sorted(shares, key=lambda key: (-(exact[key] - result[key]), list(shares).index(key)))
    for key in order[:max(left, 0)]:
        result[key] += 1
    return result


def draw_fate(rng: random.Random, outcomes: Outcomes) -> Fate:
    # One draw per outcome, always, so that changing one share does not reshuffle the others.
    draws = [rng.random() for _ in range(6)]
    return Fate(
        not_accepted=draws[0] < outcomes.not_accepted,
        relatives_filed=draws[1] < outcomes.relatives_filed,
        check_failed=draws[2] < outcomes.check_failed,
        street_refused=draws[3] < outcomes.street_refused,
        objected=draws[4] < outcomes.objected,
        district_refused=draws[5] < outcomes.district_refused,
    )


def arrival_plan(scenario: Scenario, is_workday) -> dict[date, list[Arrival]]:
    """Working day → the applications opened that day, in order. `is_workday(date)` is the run's calendar."""
    per_day: dict[date, list[tuple[str, str]]] = {}
    end = scenario.end
    for year, month in months_between(scenario.start, end):
        workdays = [d for d in month_days(year, month) if is_workday(d)]
        for arrivals in scenario.arrivals:
            by_street = split(arrivals.per_month.of(year, month), dict(arrivals.shares))
            for street, count in by_street.items():
                for day, n in zip(workdays, spread(count, len(workdays)), strict=True):
                    if scenario.start <= day < end:
                        per_day.setdefault(day, []).extend([(arrivals.program, street)] * n)
    rng = random.Random(scenario.seed)
    households = sorted(HOUSEHOLDS)
    turn = {street: 0 for street in scenario.streets}
    plan: dict[date, list[Arrival]] = {}
    number = 0
    for day in sorted(per_day):
        for program, street in per_day[day]:
            number += 1
            communities = scenario.streets[street]
            community = communities[turn[street] % len(communities)]
            turn[street] += 1
            plan.setdefault(day, []).append(Arrival(number, day, program, street, community,
                                                    rng.choice(households), draw_fate(rng, scenario.outcomes)))
    return plan
