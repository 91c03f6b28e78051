"""The scenario of a capacity simulation (容量推演): what arrives, who works it, how fast, on which calendar.

A scenario is a YAML file (docs/simulation.md describes every key, scenarios/demo_district.yaml is an example).
`parse_scenario` checks all of it at once and raises `ScenarioError` listing every problem with the key it is
about (`staff.安定街道.street_clerk.people：必须是正整数`), so a supervisor fixes the file in one go instead of
meeting one complaint per run.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engine.calendar import YearArrangement, YearFileError, parse_year_file

from ..demo import DISTRICT, STREETS
from ..programs import PROGRAMS, RULE_SETS
from ..register.months import add_months_to_date
from ..roles import ROLES, TASK_ROLES

MAX_MONTHS = 36
MAX_PER_MONTH = 100_000
MAX_PEOPLE = 1000
MAX_TASKS_PER_DAY = 1000
MAX_DELAY = 60
# Roles whose staff work for one street (community workers too: a street pools its communities' workers).
STREET_ROLES = frozenset(k for k in TASK_ROLES if ROLES[k].level in ("street", "community"))
DISTRICT_ROLES = frozenset(k for k in TASK_ROLES if ROLES[k].level == "district")
TOP_KEYS = ("name", "start", "months", "seed", "district", "arrivals", "reviews", "staff", "calendar",
            "economic_check", "outcomes")


class ScenarioError(ValueError):
    """Everything wrong with a scenario: `problems` is a list of (key path, Chinese message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("场景文件有误：" + "；".join(f"{key}：{message}" for key, message in problems))

    def lines(self) -> list[str]:
        return [f"{key}：{message}" for key, message in self.problems]


@dataclass(frozen=True)
class Capacity:
    people: int
    tasks_per_day: int

    @property
    def per_day(self) -> int:
        return self.people * self.tasks_per_day


@dataclass(frozen=True)
class MonthlyCounts:
    """A number per month: `default`, overridden for a calendar month (1–12) or one month ("YYYY-MM")."""

    default: int = 0
    by_number: Mapping[int, int] = field(default_factory=dict)
    by_month: Mapping[str, int] = field(default_factory=dict)

    def of(self, year: int, month: int) -> int:
        key = f"{year:04d}-{month:02d}"
        if key in self.by_month:
            return self.by_month[key]
        return self.by_number.get(month, self.default)


@dataclass(frozen=True)
class Arrivals:
    program: str
    per_month: MonthlyCounts
    shares: Mapping[str, float]  # street → share of the program's arrivals, summing to 1
    process_key: str | None = None  # a rule set of the program (dibao_2021); None: the district's choice


@dataclass(frozen=True)
class Outcomes:
    """Shares of cases that take another path than approval; drawn per case from the seeded generator."""

    not_accepted: float = 0.0  # 不予受理 at 受理
    relatives_filed: float = 0.0  # 近亲属备案 (the district always visits them)
    check_failed: float = 0.0  # the economic check finds undeclared income or a vehicle; the street refuses
    street_refused: float = 0.0  # the street review refuses for another reason
    objected: float = 0.0  # an objection during the 7-day public notice → 异议复查
    district_refused: float = 0.0  # 审批 refuses


@dataclass(frozen=True)
class Scenario:
    name: str
    start: date
    months: int
    seed: int
    district: str
    streets: Mapping[str, tuple[str, ...]]
    arrivals: tuple[Arrivals, ...]
    reviews: MonthlyCounts
    staff: Mapping[tuple[str, str | None], Capacity]  # (role, street; None for a district-level role)
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: tuple[YearArrangement, ...] = ()
    check_delay: int = 5  # working days from the request to the verification centre's answer
    outcomes: Outcomes = Outcomes()

    @property
    def end(self) -> date:
        """The first day not simulated."""
        return add_months_to_date(self.start, self.months)

    def capacity(self, role: str, street: str | None) -> Capacity | None:
        """The role's staff for the street (district-level roles: for the district); None: not limited."""
        return self.staff.get((role, street if role in STREET_ROLES else None))


class _Checker:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...] | None = None) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, "应为键值对（映射）")
            return {}
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    self.fail(f"{key}.{name}" if key else str(name), f"未知的键（可用：{'、'.join(allowed)}）")
        return value

    def integer(self, value: Any, key: str, low: int, high: int, default: int | None = None) -> int:
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"必须是 {low} 到 {high} 之间的整数")
            return default or low
        if not low <= value <= high:
            self.fail(key, f"必须在 {low} 到 {high} 之间，现为 {value}")
            return default or low
        return value

    def share(self, value: Any, key: str) -> float:
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.fail(key, "必须是 0 到 1 之间的比例，如 0.05")
            return 0.0
        return float(value)

    def day(self, value: Any, key: str) -> date | None:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(key, "必须是日期，格式 YYYY-MM-DD")
        return None

    def monthly(self, value: Any, key: str) -> MonthlyCounts:
        if not isinstance(value, dict):
            return MonthlyCounts(self.integer(value, key, 0, MAX_PER_MONTH, None if value is not None else 0))
        default, by_number, by_month = 0, {}, {}
        for name, count in value.items():
            where = f"{key}.{name}"
            number = self.integer(count, where, 0, MAX_PER_MONTH, 0)
            if name == "default":
                default = number
            elif isinstance(name, int) and not isinstance(name, bool) and 1 <= name <= 12:
                by_number[name] = number
            elif isinstance(name, str) and len(name) == 7 and name[4] == "-" and name[:4].isdigit() \
                    and name[5:].isdigit() and 1 <= int(name[5:]) <= 12:
                by_month[name] = number
            else:
                self.fail(where, "月份应为 1 到 12、YYYY-MM 或 default")
        return MonthlyCounts(default, by_number, by_month)


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; year files it imports are read relative to it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([("文件", f"无法读取 {path}：{exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError([("文件", "不是 UTF-8 编码的文本")]) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark is not None else "文件"
        raise ScenarioError([(where, f"不是合法的 YAML（{getattr(exc, 'problem', None) or exc}）")]) from exc
    return parse_scenario(raw, base=Path(path).parent)


def parse_scenario(raw: Any, *, base: Path | None = None) -> Scenario:
    check = _Checker()
    if not isinstance(raw, dict):
        raise ScenarioError([("文件", "场景应为 YAML 映射（键: 值）")])
    check.mapping(raw, "", TOP_KEYS)
    start = check.day(raw.get("start"), "start") if "start" in raw else None
    if start is None and "start" not in raw:
        check.fail("start", "缺少开始日期，如 start: 2026-01-05")
    months = check.integer(raw.get("months"), "months", 1, MAX_MONTHS, 12)
    seed = check.integer(raw.get("seed"), "seed", 0, 2**31 - 1, 1)
    name = raw.get("name") or "容量推演"
    if not isinstance(name, str):
        check.fail("name", "必须是文字")
        name = "容量推演"
    district, streets = _district(check, raw.get("district"))
    arrivals = _arrivals(check, raw.get("arrivals"), streets)
    reviews_raw = check.mapping(raw.get("reviews"), "reviews", ("per_month",))
    reviews = check.monthly(reviews_raw.get("per_month"), "reviews.per_month")
    staff = _staff(check, raw.get("staff"), district, streets)
    holidays, workdays, years = _calendar(check, raw.get("calendar"), base)
    check_raw = check.mapping(raw.get("economic_check"), "economic_check",
                              ("reply_after_working_days", "failed_share"))
    delay = check.integer(check_raw.get("reply_after_working_days"), "economic_check.reply_after_working_days",
                          0, MAX_DELAY, 5)
    outcome_keys = ("not_accepted", "relatives_filed", "street_refused", "objected", "district_refused")
    outcomes_raw = check.mapping(raw.get("outcomes"), "outcomes", outcome_keys)
    shares = {k: check.share(outcomes_raw.get(k), f"outcomes.{k}") for k in outcome_keys}
    outcomes = Outcomes(check_failed=check.share(check_raw.get("failed_share"), "economic_check.failed_share"),
                        **shares)
    if check.problems or start is None:
        raise ScenarioError(check.problems)
    return Scenario(name=name, start=start, months=months, seed=seed, district=district, streets=streets,
                    arrivals=arrivals, reviews=reviews, staff=staff, holidays=holidays, workdays=workdays,
                    years=years, check_delay=delay, outcomes=outcomes)


def _district(check: _Checker, value: Any) -> tuple[str, dict[str, tuple[str, ...]]]:
    if value is None:  # the demo district of workflows.demo
        return DISTRICT, {street: tuple(communities) for street, communities in STREETS.items()}
    raw = check.mapping(value, "district", ("name", "streets"))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        check.fail("district.name", "缺少区县名称")
        name = DISTRICT
    streets: dict[str, tuple[str, ...]] = {}
    raw_streets = raw.get("streets")
    if not isinstance(raw_streets, dict) or not raw_streets:
        check.fail("district.streets", "至少要有一个街道，写作 街道名: [社区名, …]")
        return name, {street: tuple(c) for street, c in STREETS.items()}
    seen: set[str] = set()
    for street, communities in raw_streets.items():
        if not isinstance(communities, list) or not communities \
                or not all(isinstance(c, str) and c.strip() for c in communities):
            check.fail(f"district.streets.{street}", "应为社区名称的列表，至少一个社区")
            continue
        for community in communities:
            if community in seen:
                check.fail(f"district.streets.{street}", f"社区 {community} 重复出现")
            seen.add(community)
        streets[str(street)] = tuple(communities)
    return name.strip(), streets


SIMULATED_PROGRAMS = ("dibao",)


def _arrivals(check: _Checker, value: Any, streets: Mapping[str, tuple[str, ...]]) -> tuple[Arrivals, ...]:
    raw = check.mapping(value, "arrivals")
    if not raw:
        check.fail("arrivals", "至少要有一个项目的申请量，如 arrivals: {dibao: {per_month: 300}}")
    items = []
    for program, spec in raw.items():
        key = f"arrivals.{program}"
        known = PROGRAMS.get(program)
        if known is None:
            check.fail(key, f"未知项目（可用：{'、'.join(PROGRAMS)}）")
            continue
        if program not in SIMULATED_PROGRAMS:
            # The simulation fills each step's form itself (workflows.simulation.forms): only 低保's are written.
            names = "、".join(PROGRAMS[k].name for k in SIMULATED_PROGRAMS)
            check.fail(key, f"推演暂只支持：{names}（{known.name} 的各环节表单尚未接入推演）")
            continue
        body = check.mapping(spec if isinstance(spec, dict) else {"per_month": spec}, key,
                             ("per_month", "streets", "rule_set"))
        per_month = check.monthly(body.get("per_month"), f"{key}.per_month")
        rule_set = body.get("rule_set")
        allowed = [r.process_key for r in RULE_SETS.get(program, ())]
        if rule_set is not None and rule_set not in allowed:
            check.fail(f"{key}.rule_set", f"可选：{'、'.join(allowed) or '（该项目没有可选规程）'}")
        items.append(Arrivals(program, per_month, _shares(check, body.get("streets"), f"{key}.streets", streets),
                              rule_set))
    return tuple(items)


def _shares(check: _Checker, value: Any, key: str, streets: Mapping[str, tuple[str, ...]]) -> dict[str, float]:
    if value is None:  # equal shares
        return {street: 1 / len(streets) for street in streets}
    raw = check.mapping(value, key)
    shares = {}
    for street, share in raw.items():
        if street not in streets:
            check.fail(f"{key}.{street}", f"不是本区的街道（可用：{'、'.join(streets)}）")
            continue
        shares[street] = check.share(share, f"{key}.{street}")
    total = sum(shares.values())
    if raw and abs(total - 1) > 1e-6:
        check.fail(key, f"各街道比例之和应为 1，现为 {total:g}")
    return shares


def _staff(check: _Checker, value: Any, district: str,
           streets: Mapping[str, tuple[str, ...]]) -> dict[tuple[str, str | None], Capacity]:
    staff: dict[tuple[str, str | None], Capacity] = {}
    for place, roles in check.mapping(value, "staff").items():
        key = f"staff.{place}"
        at_district = place == district
        if not at_district and place not in streets:
            check.fail(key, f"应为本区（{district}）或其街道（{'、'.join(streets)}）")
            continue
        allowed = DISTRICT_ROLES if at_district else STREET_ROLES
        for role, spec in check.mapping(roles, key).items():
            where = f"{key}.{role}"
            if role not in allowed:
                level = "区级" if at_district else "街道"
                check.fail(where, f"不是{level}岗位（可用：{'、'.join(sorted(allowed))}）")
                continue
            body = check.mapping(spec, where, ("people", "tasks_per_day"))
            for needed in ("people", "tasks_per_day"):
                if needed not in body:
                    check.fail(f"{where}.{needed}", "缺少此项")
            people = check.integer(body.get("people"), f"{where}.people", 0, MAX_PEOPLE, 1)
            per_day = check.integer(body.get("tasks_per_day"), f"{where}.tasks_per_day", 1, MAX_TASKS_PER_DAY, 1)
            staff[(role, None if at_district else place)] = Capacity(people, per_day)
    return staff


def _calendar(check: _Checker, value: Any,
              base: Path | None) -> tuple[frozenset[date], frozenset[date], tuple[YearArrangement, ...]]:
    raw = check.mapping(value, "calendar", ("holidays", "workdays", "import"))
    days: dict[str, set[date]] = {}
    for kind in ("holidays", "workdays"):
        items = raw.get(kind) or []
        if not isinstance(items, list):
            check.fail(f"calendar.{kind}", "应为日期列表")
            items = []
        days[kind] = {d for i, item in enumerate(items) if (d := check.day(item, f"calendar.{kind}[{i}]"))}
    both = days["holidays"] & days["workdays"]
    if both:
        check.fail("calendar", f"同一天既是放假又是上班：{', '.join(sorted(d.isoformat() for d in both))}")
    years = []
    files = raw.get("import") or []
    if not isinstance(files, list):
        check.fail("calendar.import", "应为节假日安排文件（CSV 或 JSON）的列表")
        files = []
    for i, name in enumerate(files):
        where = f"calendar.import[{i}]"
        path = Path(str(name))
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            content = path.read_bytes()
        except OSError as exc:
            check.fail(where, f"无法读取 {path}：{exc.strerror}")
            continue
        try:
            years.append(parse_year_file(content, kind="json" if path.suffix.lower() == ".json" else "csv"))
        except YearFileError as exc:
            check.fail(where, f"{exc.message}（{path.name}）")
    return frozenset(days["holidays"]), frozenset(days["workdays"]), tuple(years)
