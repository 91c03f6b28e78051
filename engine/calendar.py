"""Working days and "within N working days" (N个工作日内) deadlines, in Asia/Shanghai.

A working day is Monday-Friday, minus the public holidays and plus the make-up workdays (调休上班) that the
General Office of the State Council publishes each year. Those come from the `chinese_calendar` package for the
years its tables cover (2004-2026 in version 1.11.0; its 2026 entries match 国务院办公厅关于2026年部分节假日安排的通知
of 2025-11-04). A year the package does not know can be *imported* from the State Council notice: its holidays and
make-up workdays become overrides and the year is passed in `covered_years`. Any other year falls back to plain
Monday-Friday and `covers(year)` is False, so the application can warn (`uncovered_years`, `coverage_warnings`).
Local decisions (an office closed for a typhoon, an extra duty Saturday) are injected as overrides.

`parse_year_file` reads such an imported arrangement (CSV or JSON, see docs/deadlines.md) and reports every bad
line at once.

Deadlines follow the administrative convention: the day the clock starts is not counted, and the period ends at
24:00 of the last day, represented as 00:00 of the following calendar day.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import chinese_calendar

from engine.clock import SHANGHAI

_ONE_DAY = timedelta(days=1)

# chinese_calendar refuses any date outside the years of its holiday table; mirror that range rather than
# hard-coding it, so that upgrading the package extends coverage without touching this module.
_FIRST_YEAR: int = min(chinese_calendar.holidays).year
_LAST_YEAR: int = max(chinese_calendar.holidays).year


def official_years() -> range:
    """The years of the official table shipped with the installed chinese_calendar."""
    return range(_FIRST_YEAR, _LAST_YEAR + 1)


def _official_workday(d: date) -> bool:
    if _FIRST_YEAR <= d.year <= _LAST_YEAR:
        # The rule of chinese_calendar.is_workday, read from its tables directly: that function rescans the whole
        # holiday table on every call to validate the year, which would make a cold calendar slow.
        return d in chinese_calendar.workdays or (d.weekday() < 5 and d not in chinese_calendar.holidays)
    return d.weekday() < 5


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {instant!r}")


def _local_date(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


def _start_of(day: date) -> datetime:
    # Asia/Shanghai has had no DST since 1991, so every local midnight exists exactly once.
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


class BusinessCalendar:
    """Working-day arithmetic in Asia/Shanghai.

    `overrides` maps a date to True (a make-up workday) or False (a day off); they win over the official
    arrangement and over the weekday rule. Every answer is cached on the instance, so keep one calendar per set
    of overrides rather than building one per call.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None, covered_years: Iterable[int] = ()):
        self.imported_years: frozenset[int] = frozenset(int(y) for y in covered_years)
        for day in overrides or {}:
            # datetime is a subclass of date but never equal to one, so such a key would silently never match.
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"override keys must be dates, got {day!r}")
        # Seeding the cache with the overrides is what makes them win: cached entries are never recomputed.
        self._days: dict[date, bool] = {day: bool(value) for day, value in (overrides or {}).items()}

    def is_workday(self, d: date) -> bool:
        if isinstance(d, datetime):
            raise TypeError("is_workday takes a date; convert the instant to an Asia/Shanghai date first")
        return self._workday(d)

    def covers(self, year: int) -> bool:
        """Whether the holiday arrangement of `year` is known: the official table, or a year imported by an admin.

        Single-day overrides do not count: one typhoon day says nothing about Spring Festival."""
        return _FIRST_YEAR <= year <= _LAST_YEAR or year in self.imported_years

    def coverage(self, year: int) -> str:
        """`official`, `imported` or `none`."""
        if _FIRST_YEAR <= year <= _LAST_YEAR:
            return "official"
        return "imported" if year in self.imported_years else "none"

    def uncovered_years(self, first: date | datetime, last: date | datetime) -> list[int]:
        """The years from `first` to `last` (either order; instants are read as Asia/Shanghai dates) not covered."""
        a, b = (_local_date(x) if isinstance(x, datetime) else x for x in (first, last))
        low, high = min(a.year, b.year), max(a.year, b.year)
        return [year for year in range(low, high + 1) if not self.covers(year)]

    def coverage_warnings(self, first: date | datetime, last: date | datetime) -> list[str]:
        """Chinese sentences, one per year of the span whose holiday arrangement is not known."""
        return [uncovered_year_warning(year) for year in self.uncovered_years(first, last)]

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The deadline for "within `n` working days of `start`".

        The start day (its Asia/Shanghai date) is not counted, whether or not it is a working day; the deadline is
        24:00 of the n-th working day after it, returned as 00:00 Asia/Shanghai of the next calendar day. A case
        opened Thursday 2026-09-24 with n=3 skips Mid-Autumn (25-27 Sep) and is due 24:00 Wednesday 30 Sep,
        i.e. 2026-10-01T00:00+08:00.
        """
        _require_aware(start, "start")
        if n < 1:
            raise ValueError(f"n must be at least 1 working day, got {n}")
        return _start_of(self._nth_workday_after(_local_date(start), n) + _ONE_DAY)

    def subtract_working_days(self, deadline: datetime, n: int) -> datetime:
        """00:00 Asia/Shanghai of the n-th working day, counting backwards, among those that begin before `deadline`.

        For a deadline from `add_working_days` (24:00 of working day D) n=1 gives 00:00 of D: a reminder "one
        working day before due" fires as the last working day begins, leaving that whole day to act. n=2 gives the
        start of the working day before D, and so on; n=0 returns `deadline` unchanged. A deadline in the middle
        of a day counts that day as begun, so 15:00 Wednesday with n=1 gives 00:00 Wednesday.
        """
        _require_aware(deadline, "deadline")
        if n < 0:
            raise ValueError(f"n must not be negative, got {n}")
        if n == 0:
            return deadline
        local = deadline.astimezone(SHANGHAI)
        # A deadline at exactly 00:00 is 24:00 of the previous day: the day starting at that instant has not begun.
        day = local.date() - _ONE_DAY if local.time() == time(0) else local.date()
        found = 0
        while True:
            if self._workday(day):
                found += 1
                if found == n:
                    return _start_of(day)
            day -= _ONE_DAY

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """The number of working days d with a's date < d <= b's date (Asia/Shanghai dates); 0 if b <= a.

        It counts like `add_working_days`: for a case opened at `a`, it is how many of its working days `b` has
        reached, the one in progress included. For "overdue for N working days" with a = the deadline, mind that a
        deadline is 00:00 of the day after the due day and that day is not counted: a case due 24:00 Tuesday shows
        0 all Wednesday and 1 on Thursday.
        """
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b <= a:
            return 0
        day, last = _local_date(a), _local_date(b)
        count = 0
        while day < last:
            day += _ONE_DAY
            if self._workday(day):
                count += 1
        return count

    def shift_by_pause(self, due: datetime, paused_from: datetime, paused_until: datetime) -> datetime:
        """Move `due` later by the working days a pause covered (补正材料期间不计入办理时限).

        The pause covers working_days_between(paused_from, paused_until) working days: the day the case stops
        still counts as worked, the day it resumes does not. That is exactly as if the remaining days were counted
        afresh from the resumption under the "start day not counted" rule, so applying several pauses one after
        another is consistent. A pause that starts and ends on the same day moves nothing.

        `due` moves to the same time of day on the k-th working day after its own day, where a due at 00:00 is
        read as 24:00 of the previous day; a deadline from `add_working_days` therefore stays at 24:00 of a
        working day.
        """
        _require_aware(due, "due")
        _require_aware(paused_from, "paused_from")
        _require_aware(paused_until, "paused_until")
        if paused_until < paused_from:
            raise ValueError("paused_until is earlier than paused_from")
        k = self.working_days_between(paused_from, paused_until)
        if k == 0:
            return due
        local = due.astimezone(SHANGHAI)
        day = local.date() - _ONE_DAY if local.time() == time(0) else local.date()
        into_day = local - _start_of(day)  # in (0, 24h]
        return _start_of(self._nth_workday_after(day, k)) + into_day

    def _workday(self, d: date) -> bool:
        try:
            return self._days[d]
        except KeyError:
            answer = self._days[d] = _official_workday(d)
            return answer

    def _nth_workday_after(self, day: date, n: int) -> date:
        while n:
            day += _ONE_DAY
            if self._workday(day):
                n -= 1
        return day


def uncovered_year_warning(year: int) -> str:
    return (f"{year} 年的法定节假日与调休安排尚未录入，该年按周一至周五计算工作日，期限可能不准确；"
            f"请管理员导入国务院办公厅公布的 {year} 年安排（jiuzhu calendar import 或 POST /api/v1/calendar/years/{year}）")


# --- an imported year's arrangement -------------------------------------------------------------------------------

MAX_YEAR_FILE_BYTES = 64 * 1024
_KINDS = {"holiday": False, "放假": False, "休息": False, "休": False,
          "workday": True, "上班": True, "调休": True, "班": True}


@dataclass
class YearArrangement:
    """One year's holidays (False) and make-up workdays (True), with notes."""

    year: int
    days: dict[date, bool] = field(default_factory=dict)
    notes: dict[date, str | None] = field(default_factory=dict)


class YearFileError(ValueError):
    """A year file that cannot be imported; `problems` maps "第 N 行" (or a field) to messages."""

    def __init__(self, message: str, problems: dict[str, list[str]]):
        super().__init__(message)
        self.message = message
        self.problems = problems


def _line_key(number: int | None) -> str:
    return f"第 {number} 行" if number is not None else "file"


def parse_year_file(content: bytes | str, year: int | None = None, *, kind: str | None = None) -> YearArrangement:
    """Read a year's arrangement from CSV (`date,kind[,note]`) or JSON (`{year, days: [{date, kind, note?}]}`).

    `year` is the year being imported (from the URL); None takes it from the file (JSON `year`, or the dates).
    `kind` is "csv" or "json"; None guesses from the first character. Every problem of the file is collected and
    raised together as YearFileError, keyed by line ("第 N 行"; for JSON the item number)."""
    if isinstance(content, bytes):
        if len(content) > MAX_YEAR_FILE_BYTES:
            raise YearFileError("日历文件过大", {"file": [f"不能超过 {MAX_YEAR_FILE_BYTES // 1024} KB"]})
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise YearFileError("日历文件须为 UTF-8 编码", {"file": ["不是 UTF-8 编码的文本"]}) from exc
    else:
        text = content.removeprefix("\ufeff")
    if len(text.encode("utf-8")) > MAX_YEAR_FILE_BYTES:
        raise YearFileError("日历文件过大", {"file": [f"不能超过 {MAX_YEAR_FILE_BYTES // 1024} KB"]})
    if kind is None:
        kind = "json" if text.lstrip().startswith(("{", "[")) else "csv"
    rows = _json_rows(text, year) if kind == "json" else _csv_rows(text)
    return _arrangement(rows, year)


def _csv_rows(text: str) -> list[tuple[int | None, dict]]:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise YearFileError("日历文件为空", {"file": ["没有任何日期"]})
    header_number, header = lines[0]
    columns = [c.strip().lower() for c in next(csv.reader([header]))]
    rows: list[tuple[int | None, dict]] = []
    if columns[:2] != ["date", "kind"] or not set(columns) <= {"date", "kind", "note"}:
        raise YearFileError("日历文件的表头有误", {_line_key(header_number): [
            "表头须为 date,kind,note（note 可省略）"]})
    for number, line in lines[1:]:
        values = next(csv.reader(io.StringIO(line)), [])
        if len(values) > len(columns):
            rows.append((number, {"_error": f"列数过多：应为 {len(columns)} 列，实为 {len(values)} 列"}))
            continue
        rows.append((number, dict(zip(columns, (v.strip() for v in values), strict=False))))
    return rows


def _json_rows(text: str, year: int | None) -> list[tuple[int | None, dict]]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise YearFileError("日历文件不是合法的 JSON", {"file": [f"JSON 无法解析：{exc}"]}) from exc
    if isinstance(document, list):
        document = {"days": document}
    if not isinstance(document, dict) or not isinstance(document.get("days"), list):
        raise YearFileError("日历文件格式有误", {"days": ["须为 {\"year\": 2027, \"days\": [...]} 形式的列表"]})
    file_year = document.get("year")
    if file_year is not None:
        if not isinstance(file_year, int) or isinstance(file_year, bool):
            raise YearFileError("日历文件格式有误", {"year": ["须为整数年份"]})
        if year is not None and file_year != year:
            raise YearFileError("年份不一致", {"year": [f"文件写的是 {file_year} 年，导入的是 {year} 年"]})
    rows: list[tuple[int | None, dict]] = []
    for number, item in enumerate(document["days"], 1):
        if not isinstance(item, dict):
            rows.append((number, {"_error": "须为 {date, kind, note?} 对象"}))
        else:
            rows.append((number, {k: (v if v is None or isinstance(v, str) else str(v)) for k, v in item.items()}))
    if file_year is not None and year is None:
        rows.insert(0, (None, {"_year": str(file_year)}))
    return rows


def _arrangement(rows: list[tuple[int | None, dict]], year: int | None) -> YearArrangement:
    problems: dict[str, list[str]] = {}
    parsed: list[tuple[int | None, date, bool, str | None]] = []
    if rows and "_year" in rows[0][1]:
        year = int(rows.pop(0)[1]["_year"])
    for number, row in rows:
        errors = problems.setdefault(_line_key(number), [])
        if "_error" in row:
            errors.append(row["_error"])
            continue
        unknown = set(row) - {"date", "kind", "note"}
        if unknown:
            errors.append(f"未知字段：{', '.join(sorted(unknown))}")
        text_day, text_kind, note = (row.get("date") or "").strip(), (row.get("kind") or "").strip(), row.get("note")
        day = None
        if not text_day:
            errors.append("缺少日期（date）")
        else:
            try:
                day = date.fromisoformat(text_day)
                if len(text_day) != 10:
                    raise ValueError(text_day)
            except ValueError:
                errors.append(f"日期 {text_day} 无效，须为 YYYY-MM-DD")
                day = None
        workday = _KINDS.get(text_kind.lower())
        if not text_kind:
            errors.append("缺少类型（kind）：holiday（放假）或 workday（调休上班）")
        elif workday is None:
            errors.append(f"类型 {text_kind} 无效，须为 holiday（放假）或 workday（调休上班）")
        if note is not None and len(note) > 200:
            errors.append("备注不能超过 200 个字")
        if day is not None and workday is not None and not errors:
            parsed.append((number, day, workday, (note or "").strip() or None))
    if year is None and parsed:
        years = sorted({day.year for _, day, _, _ in parsed})
        if len(years) > 1:
            problems.setdefault("file", []).append(
                f"一个文件只能导入一年，文件中有 {', '.join(map(str, years))} 年的日期")
        year = years[0]
    arrangement = YearArrangement(year=year or 0)
    first_line: dict[date, int | None] = {}
    for number, day, workday, note in parsed:
        if year is not None and day.year != year:
            problems[_line_key(number)].append(f"日期 {day.isoformat()} 不属于 {year} 年")
        elif day in first_line:
            problems[_line_key(number)].append(f"日期 {day.isoformat()} 重复（已见于{_line_key(first_line[day])}）")
        else:
            first_line[day] = number
            arrangement.days[day] = workday
            arrangement.notes[day] = note
    if len(rows) > 366:
        problems.setdefault("file", []).append("一年最多 366 行")
    problems = {key: messages for key, messages in problems.items() if messages}
    if not problems and not arrangement.days:
        problems["file"] = ["没有任何日期"]
    if problems:
        count = sum(len(m) for m in problems.values())
        raise YearFileError(f"日历文件有 {count} 处错误，未导入", problems)
    return arrangement
