"""Working days and "within N working days" (N个工作日内) deadlines, in Asia/Shanghai.

A working day is Monday-Friday, minus the public holidays and plus the make-up workdays (调休上班) that the
General Office of the State Council publishes each year. Those come from the `chinese_calendar` package for the
years its tables cover (2004-2026 in version 1.11.0; its 2026 entries match 国务院办公厅关于2026年部分节假日安排的通知
of 2025-11-04). Any other year falls back to plain Monday-Friday and `covers(year)` is False so the application can
warn. Local decisions (an office closed for a typhoon, an extra duty Saturday) are injected as overrides.

Deadlines follow the administrative convention: the day the clock starts is not counted, and the period ends at
24:00 of the last day, represented as 00:00 of the following calendar day.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

import chinese_calendar

from engine.clock import SHANGHAI

_ONE_DAY = timedelta(days=1)

# chinese_calendar refuses any date outside the years of its holiday table; mirror that range rather than
# hard-coding it, so that upgrading the package extends coverage without touching this module.
_FIRST_YEAR: int = min(chinese_calendar.holidays).year
_LAST_YEAR: int = max(chinese_calendar.holidays).year


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

    def __init__(self, overrides: Mapping[date, bool] | None = None):
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
        """Whether the official holiday arrangement of `year` is known (overrides do not count)."""
        return _FIRST_YEAR <= year <= _LAST_YEAR

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
