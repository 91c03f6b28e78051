"""The figures of a run, per week, street and step: what arrived, what was done and how much of it within the step's
limit, the backlog (open tasks) at the end of the week and how many of those were overdue; report.csv holds them.

Weeks are calendar weeks (Monday to Sunday) cut to the simulated period, so the first and last may be short; a
week's figures are taken at 24:00 of its last day. "Overdue" follows the inbox's rule (`HumanTask.is_overdue`):
open and past `due_at`, which the engine computed on the working-day calendar. Steps without a time limit have no
within-limit share (empty in the CSV, "—" on screen).
"""
from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from engine.clock import SHANGHAI

from .results import RunResult, TaskRecord

ALL = "全部"
CSV_HEADER = ["周次", "周起", "周止", "街道", "流程", "环节", "环节标识", "岗位", "新到", "办结", "限内办结", "限内办结率",
              "周末积压", "周末超期", "本周新超期"]


@dataclass(frozen=True)
class Week:
    number: int  # 1-based
    start: date
    end: date  # the first day after the week (or after the run)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def snapshot(self) -> datetime:
        return datetime.combine(self.end, time(0), tzinfo=SHANGHAI)


@dataclass
class Row:
    week: Week
    street: str
    step: str  # process/element (TaskRecord.step), or ALL
    name: str
    role: str
    limited: bool = False
    arrived: int = 0
    completed: int = 0
    within: int = 0  # completed within the limit (limited steps only)
    limited_completed: int = 0
    backlog: int = 0
    overdue: int = 0
    new_overdue: int = 0

    @property
    def within_share(self) -> float | None:
        return self.within / self.limited_completed if self.limited_completed else None


def weeks(start: date, end: date) -> list[Week]:
    out: list[Week] = []
    day = start
    while day < end:
        following = min(day + timedelta(days=7 - day.weekday()), end)
        out.append(Week(len(out) + 1, day, following))
        day = following
    return out


def _index(moment: datetime, snapshots: list[datetime]) -> int:
    """The week whose snapshot is the first at or after `moment` (len(snapshots) past the end)."""
    low, high = 0, len(snapshots)
    while low < high:
        middle = (low + high) // 2
        if snapshots[middle] < moment:
            low = middle + 1
        else:
            high = middle
    return low


def weekly_rows(result: RunResult) -> list[Row]:
    """Rows per week × street × step, the streets in the scenario's order and the steps in the flow's."""
    scenario = result.scenario
    all_weeks = weeks(scenario.start, scenario.end)
    snapshots = [w.snapshot for w in all_weeks]
    names: dict[str, tuple[str, str]] = {}
    limited: set[str] = set()
    for task in result.tasks:
        names.setdefault(task.step, (task.name, task.role or ""))
        if task.due_at is not None:
            limited.add(task.step)
    streets = list(scenario.streets) + sorted({t.street or "" for t in result.tasks} - set(scenario.streets))
    table: dict[tuple[int, str, str], Row] = {}
    for week in all_weeks:
        for street in streets:
            for step in result.step_order:
                name, role = names[step]
                table[(week.number, street, step)] = Row(week, street, step, name, role, step in limited)
    for task in result.tasks:
        _count(task, table, snapshots)
    return list(table.values())


def _count(task: TaskRecord, table: dict[tuple[int, str, str], Row], snapshots: list[datetime]) -> None:
    street = task.street or ""
    weeks_total = len(snapshots)

    def row(index: int) -> Row | None:
        return table.get((index + 1, street, task.step)) if index < weeks_total else None

    created = _index(task.created_at, snapshots)
    if (r := row(created)) is not None:
        r.arrived += 1
    closed = _index(task.closed_at, snapshots) if task.closed_at is not None else weeks_total
    if task.completed and task.closed_at is not None and (r := row(closed)) is not None:
        r.completed += 1
        if task.due_at is not None:
            r.limited_completed += 1
            r.within += int(task.closed_at <= task.due_at)
    # Open at a week's snapshot: created at or before it and not yet closed.
    for index in range(created, min(closed, weeks_total)):
        r = table[(index + 1, street, task.step)]
        r.backlog += 1
        if task.due_at is not None and task.due_at < snapshots[index]:
            r.overdue += 1
    if task.due_at is not None and (task.closed_at is None or task.closed_at > task.due_at):
        late = _index(task.due_at, snapshots)
        if task.due_at == snapshots[min(late, weeks_total - 1)]:
            late += 1  # due at 24:00 of a week's last day: overdue from the next week on
        if (r := row(late)) is not None:
            r.new_overdue += 1


def totals(rows: Iterable[Row], *, by_street: bool = True, roles: set[str] | None = None,
           street: str | None = None) -> list[Row]:
    """Rows summed over steps (per street, or over the whole district with `by_street=False`), per week;
    `roles` and `street` restrict which rows count."""
    summed: dict[tuple[int, str], Row] = {}
    for r in rows:
        if (roles is not None and r.role not in roles) or (street is not None and r.street != street):
            continue
        key = (r.week.number, r.street if by_street else ALL)
        total = summed.get(key)
        if total is None:
            total = summed[key] = Row(r.week, key[1], ALL, ALL, ALL, False)
        total.limited = total.limited or r.limited
        for attribute in ("arrived", "completed", "within", "limited_completed", "backlog", "overdue",
                          "new_overdue"):
            setattr(total, attribute, getattr(total, attribute) + getattr(r, attribute))
    return list(summed.values())


def share_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def write_csv(rows: list[Row], path: Path) -> None:
    # utf-8-sig: Excel opens a UTF-8 file with Chinese headers correctly only with the byte order mark.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for r in rows:
            share = r.within_share
            process, _slash, element = r.step.partition("/")
            writer.writerow([r.week.number, r.week.start.isoformat(), r.week.last_day.isoformat(), r.street, process,
                             r.name, element, r.role, r.arrived, r.completed, r.within if r.limited else "",
                             "" if share is None else f"{share:.4f}", r.backlog, r.overdue, r.new_overdue])


@dataclass(frozen=True)
class StreetSummary:
    street: str
    peak_backlog: int
    peak_week: Week | None
    final_backlog: int
    peak_overdue: int
    within_share: float | None


def summarize(rows: list[Row], *, roles: set[str] | None = None, street: str | None = None,
              by_street: bool = True) -> list[StreetSummary]:
    """Per street (or, `by_street=False`, for the whole district as ALL): peaks and end figures over the weeks."""
    out = []
    per_street: dict[str, list[Row]] = {}
    for r in totals(rows, roles=roles, street=street, by_street=by_street):
        per_street.setdefault(r.street, []).append(r)
    for name, items in per_street.items():
        items.sort(key=lambda r: r.week.number)
        peak = max(items, key=lambda r: (r.backlog, -r.week.number))
        limited_completed = sum(r.limited_completed for r in items)
        out.append(StreetSummary(name, peak.backlog, peak.week if peak.backlog else None, items[-1].backlog,
                                 max(r.overdue for r in items),
                                 sum(r.within for r in items) / limited_completed if limited_completed else None))
    return out


def summary_lines(result: RunResult, rows: list[Row]) -> list[str]:
    lines = []
    for s in summarize(rows):
        peak = f"（第 {s.peak_week.number} 周，{s.peak_week.start:%m-%d} 起）" if s.peak_week else ""
        lines.append(f"{s.street}：周末积压峰值 {s.peak_backlog} 项{peak}，期末积压 {s.final_backlog} 项，"
                     f"周末超期峰值 {s.peak_overdue} 项，限内办结率 {share_text(s.within_share)}")
    cases = result.cases
    lines.append(f"案件 {sum(cases.values())} 件：已批准 {cases.get('approved', 0)}，不予批准 {cases.get('refused', 0)}，"
                 f"办理中 {cases.get('in_progress', 0)}；复核 {result.reviews} 件；办结任务 {result.completed_tasks} 项，"
                 f"消息 {result.messages} 条")
    lines.extend(f"注意：{note}" for note in result.notes)
    return lines
