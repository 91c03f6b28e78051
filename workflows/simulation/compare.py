"""Staffing options side by side (`jiuzhu simulate --vary street_clerk@安定街道=1,2,3`): the same scenario run once per
head count of one role at one place, and per option the figures a supervisor decides on."""
from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

from .report import Row, share_text, summarize
from .scenario import STREET_ROLES, Capacity, Scenario, ScenarioError

HEADER = ["人数", "每日可办", "该岗位积压峰值", "峰值所在周", "该岗位期末积压", "该岗位超期峰值", "该岗位限内办结率",
          "全部岗位积压峰值", "全部岗位超期峰值"]


@dataclass(frozen=True)
class Variation:
    role: str
    place: str  # a street, or the district for a district-level role
    people: tuple[int, ...]

    def label(self) -> str:
        return f"{self.role}@{self.place}"


def parse_variation(text: str, scenario: Scenario) -> Variation:
    """`role@place=1,2,3`; the role's tasks per day come from the scenario's staff entry for that place."""
    key = "--vary"
    try:
        target, counts = text.split("=", 1)
        role, place = target.split("@", 1)
        people = tuple(int(n) for n in counts.split(","))
    except ValueError:
        raise ScenarioError([(key, "格式应为 岗位@街道=人数,人数,…，如 street_clerk@安定街道=1,2,3")]) from None
    role, place = role.strip(), place.strip()
    street = None if place == scenario.district else place
    if street is not None and street not in scenario.streets:
        raise ScenarioError([(key, f"{place} 不是本区或其街道（可用：{'、'.join([scenario.district, *scenario.streets])}）")])
    if (role in STREET_ROLES) != (street is not None):
        raise ScenarioError([(key, f"{role} 不是{'街道' if street else '区级'}岗位")])
    if (role, street) not in scenario.staff:
        raise ScenarioError([(key, f"场景的 staff.{place}.{role} 未设定 tasks_per_day，无法只改人数")])
    if not people or any(n < 0 or n > 1000 for n in people):
        raise ScenarioError([(key, "人数应为 0 到 1000 之间的整数")])
    return Variation(role, place, people)


def with_people(scenario: Scenario, variation: Variation, people: int) -> Scenario:
    street = None if variation.place == scenario.district else variation.place
    staff = dict(scenario.staff)
    staff[(variation.role, street)] = Capacity(people, scenario.staff[(variation.role, street)].tasks_per_day)
    return replace(scenario, staff=staff)


def option_figures(variation: Variation, scenario: Scenario, people: int, rows: list[Row]) -> list[str]:
    """One line of the table: the role's figures at the place, then the place's whole backlog."""
    street = None if variation.place == scenario.district else variation.place
    tasks_per_day = scenario.staff[(variation.role, street)].tasks_per_day
    role = summarize(rows, roles={variation.role}, street=street, by_street=False)
    whole = summarize(rows, street=street, by_street=False)
    mine = role[0] if role else None
    everything = whole[0] if whole else None
    return [str(people), str(people * tasks_per_day), str(mine.peak_backlog if mine else 0),
            mine.peak_week.start.isoformat() if mine and mine.peak_week else "—",
            str(mine.final_backlog if mine else 0), str(mine.peak_overdue if mine else 0),
            share_text(mine.within_share if mine else None),
            str(everything.peak_backlog if everything else 0), str(everything.peak_overdue if everything else 0)]


def markdown(lines: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out) + "\n"


def write(lines: list[list[str]], folder: Path) -> None:
    with (folder / "compare.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(lines)
    (folder / "compare.md").write_text(markdown(lines), encoding="utf-8")
