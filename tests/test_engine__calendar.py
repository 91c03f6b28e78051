"""engine.calendar: working days in Asia/Shanghai and "within N working days" deadlines. No database."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.calendar import BusinessCalendar, YearFileError, official_years, parse_year_file

SH = ZoneInfo("Asia/Shanghai")
ONE_DAY = timedelta(days=1)
EPSILON = timedelta(microseconds=1)


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def days(start: str, end: str) -> list[date]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar()


# --- plain weeks ---------------------------------------------------------------------------------------------


def test_plain_week_is_monday_to_friday(cal):
    week = days("2026-03-02", "2026-03-08")  # Monday..Sunday, no holiday
    assert [cal.is_workday(d) for d in week] == [True] * 5 + [False] * 2


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (sh(2026, 3, 2, 10), 1, sh(2026, 3, 4)),  # Monday -> end of Tuesday
        (sh(2026, 3, 2, 10), 5, sh(2026, 3, 10)),  # Tue..Fri + Monday -> end of Monday
        (sh(2026, 3, 5, 10), 2, sh(2026, 3, 10)),  # Thursday -> Friday, Monday
        (sh(2026, 3, 6, 10), 1, sh(2026, 3, 10)),  # Friday -> Monday
        (sh(2026, 3, 7, 10), 1, sh(2026, 3, 10)),  # Saturday: start day not counted, Monday is the first
        (sh(2026, 3, 2, 10), 10, sh(2026, 3, 17)),
    ],
)
def test_plain_week_deadlines(cal, start, n, due):
    assert cal.add_working_days(start, n) == due


# --- the 24:00 rule and time zones ------------------------------------------------------------------------------


def test_created_at_2359_monday_is_due_at_end_of_tuesday(cal):
    due = cal.add_working_days(sh(2026, 3, 2, 23, 59), 1)
    assert due == sh(2026, 3, 4)  # 00:00 Wednesday == 24:00 Tuesday
    assert due.tzinfo is not None and due.utcoffset() == timedelta(hours=8)
    assert (due.year, due.month, due.day, due.hour, due.minute) == (2026, 3, 4, 0, 0)


def test_whole_start_day_is_not_counted(cal):
    assert cal.add_working_days(sh(2026, 3, 2, 0, 0), 1) == cal.add_working_days(sh(2026, 3, 2, 23, 59), 1)


def test_start_day_is_taken_in_shanghai_not_utc(cal):
    # Monday 16:30 UTC is Tuesday 00:30 in Shanghai, so the first working day counted is Wednesday.
    start = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)
    assert cal.add_working_days(start, 1) == sh(2026, 3, 5)


# --- years chinese_calendar covers ------------------------------------------------------------------------------


def test_2024_spring_festival(cal):
    assert not any(cal.is_workday(d) for d in days("2024-02-10", "2024-02-17"))
    assert cal.is_workday(date(2024, 2, 4))  # Sunday, make-up workday
    assert cal.is_workday(date(2024, 2, 18))  # Sunday, make-up workday
    assert cal.is_workday(date(2024, 2, 9))  # New Year's Eve was a working day in 2024
    # Opened on Friday 9 Feb: the holiday runs to the 17th, Sunday the 18th is the first working day.
    assert cal.add_working_days(sh(2024, 2, 9, 9), 1) == sh(2024, 2, 19)
    assert cal.add_working_days(sh(2024, 2, 9, 9), 2) == sh(2024, 2, 20)


def test_2024_national_day(cal):
    assert not any(cal.is_workday(d) for d in days("2024-10-01", "2024-10-07"))
    assert cal.is_workday(date(2024, 9, 29))  # Sunday
    assert cal.is_workday(date(2024, 10, 12))  # Saturday
    assert cal.is_workday(date(2024, 10, 8))
    assert not cal.is_workday(date(2024, 10, 13))
    assert cal.add_working_days(sh(2024, 9, 27, 15), 1) == sh(2024, 9, 30)  # Friday -> Sunday the 29th
    assert cal.add_working_days(sh(2024, 9, 30, 15), 1) == sh(2024, 10, 9)  # Monday -> Tuesday 8 Oct
    assert cal.add_working_days(sh(2024, 9, 30, 15), 5) == sh(2024, 10, 13)  # 8, 9, 10, 11, Saturday 12


def test_2025_spring_festival(cal):
    assert not any(cal.is_workday(d) for d in days("2025-01-28", "2025-02-04"))
    assert cal.is_workday(date(2025, 1, 26))  # Sunday
    assert cal.is_workday(date(2025, 2, 8))  # Saturday
    assert cal.add_working_days(sh(2025, 1, 27, 9), 1) == sh(2025, 2, 6)  # Monday 27 Jan -> Wednesday 5 Feb
    assert cal.add_working_days(sh(2025, 1, 27, 9), 4) == sh(2025, 2, 9)  # 5, 6, 7, Saturday 8


def test_2025_national_day_and_mid_autumn(cal):
    assert not any(cal.is_workday(d) for d in days("2025-10-01", "2025-10-08"))  # 8 days, Mid-Autumn on the 6th
    assert cal.is_workday(date(2025, 9, 28))  # Sunday
    assert cal.is_workday(date(2025, 10, 11))  # Saturday
    start = sh(2025, 9, 26, 11)  # Friday
    assert cal.add_working_days(start, 1) == sh(2025, 9, 29)  # Sunday 28th
    assert cal.add_working_days(start, 3) == sh(2025, 10, 1)  # 28, 29, 30
    assert cal.add_working_days(start, 4) == sh(2025, 10, 10)  # Thursday 9 Oct
    assert cal.add_working_days(start, 6) == sh(2025, 10, 12)  # 9, 10, Saturday 11


# --- 2026 --------------------------------------------------------------------------------------------------------

# 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04): every 2026 day that differs from Monday-Friday.
NOTICE_2026_WEEKDAYS_OFF = {
    *days("2026-01-01", "2026-01-02"),  # 元旦 1-3 Jan
    *days("2026-02-16", "2026-02-20"),  # 春节 15-23 Feb
    date(2026, 2, 23),
    date(2026, 4, 6),  # 清明 4-6 Apr
    date(2026, 5, 1),  # 劳动节 1-5 May
    *days("2026-05-04", "2026-05-05"),
    date(2026, 6, 19),  # 端午 19-21 Jun
    date(2026, 9, 25),  # 中秋 25-27 Sep
    *days("2026-10-01", "2026-10-02"),  # 国庆 1-7 Oct
    *days("2026-10-05", "2026-10-07"),
}
NOTICE_2026_WEEKEND_WORKDAYS = {
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
}


def test_2026_matches_the_state_council_notice(cal):
    assert cal.covers(2026)
    year = days("2026-01-01", "2026-12-31")
    assert {d for d in year if d.weekday() < 5 and not cal.is_workday(d)} == NOTICE_2026_WEEKDAYS_OFF
    assert {d for d in year if d.weekday() >= 5 and cal.is_workday(d)} == NOTICE_2026_WEEKEND_WORKDAYS


@pytest.mark.parametrize(
    ("n", "due"),
    [
        (1, sh(2026, 9, 29)),  # Fri 25 Mid-Autumn, weekend -> Monday 28
        (3, sh(2026, 10, 1)),  # 28, 29, 30: due 24:00 Wednesday 30 Sep
        (4, sh(2026, 10, 9)),  # 1-7 Oct off -> Thursday 8
        (5, sh(2026, 10, 10)),  # Friday 9
        (6, sh(2026, 10, 11)),  # Saturday 10 is a make-up workday
        (7, sh(2026, 10, 13)),  # Sunday 11 off -> Monday 12
    ],
)
def test_2026_task_created_thursday_before_mid_autumn(cal, n, due):
    assert cal.add_working_days(sh(2026, 9, 24, 14, 30), n) == due


@pytest.mark.parametrize(
    ("n", "due"),
    [
        (1, sh(2026, 10, 9)),  # Thursday 8 Oct
        (3, sh(2026, 10, 11)),  # 8, 9, Saturday 10
        (5, sh(2026, 10, 14)),  # 8, 9, 10, 12, 13
    ],
)
def test_2026_task_created_on_30_september(cal, n, due):
    assert cal.add_working_days(sh(2026, 9, 30, 9), n) == due


def test_2026_make_up_sunday_before_national_day(cal):
    assert cal.add_working_days(sh(2026, 9, 19, 10), 1) == sh(2026, 9, 21)  # Saturday -> Sunday 20 Sep


# --- coverage and fallback --------------------------------------------------------------------------------------


def test_covered_years(cal):
    assert all(cal.covers(year) for year in range(2004, 2027))
    assert not cal.covers(2003)
    assert not cal.covers(2099)


def test_uncovered_year_falls_back_to_plain_weekdays(cal):
    # 1 Oct 2099 is a Thursday; with no official data it is an ordinary working day.
    assert [cal.is_workday(d) for d in days("2099-09-28", "2099-10-04")] == [True] * 5 + [False] * 2
    assert cal.add_working_days(sh(2099, 9, 30, 10), 1) == sh(2099, 10, 2)
    assert cal.add_working_days(sh(2099, 10, 2, 10), 1) == sh(2099, 10, 6)  # Friday -> Monday


def test_coverage_names_the_uncovered_years(cal):
    assert official_years() == range(2004, 2027)
    assert cal.coverage(2026) == "official" and cal.coverage(2027) == "none"
    assert cal.uncovered_years(date(2026, 12, 1), date(2028, 1, 5)) == [2027, 2028]
    assert cal.uncovered_years(sh(2026, 12, 31, 23), sh(2026, 12, 31, 23, 59)) == []
    # Instants are read in Shanghai: 2026-12-31 16:30 UTC is already 2027 there.
    assert cal.uncovered_years(datetime(2026, 12, 31, 16, 30, tzinfo=UTC), sh(2026, 12, 31)) == [2027]
    warnings = cal.coverage_warnings(date(2026, 11, 1), date(2027, 2, 1))
    assert len(warnings) == 1 and "2027 年" in warnings[0] and "jiuzhu calendar import" in warnings[0]
    assert cal.coverage_warnings(date(2026, 1, 1), date(2026, 12, 31)) == []


def test_an_imported_year_counts_as_covered_and_its_days_apply():
    imported = BusinessCalendar({date(2027, 10, 1): False, date(2027, 9, 26): True}, covered_years=[2027])
    assert imported.covers(2027) and imported.coverage(2027) == "imported"
    assert imported.coverage_warnings(date(2027, 1, 1), date(2027, 12, 31)) == []
    assert not imported.is_workday(date(2027, 10, 1)) and imported.is_workday(date(2027, 9, 26))
    # Single-day overrides alone do not make a year covered.
    assert not BusinessCalendar({date(2027, 10, 1): False}).covers(2027)


# --- year files (an imported arrangement) ---------------------------------------------------------------------


def test_year_file_csv_with_comments_notes_and_chinese_kinds():
    text = "# 示例\ndate,kind,note\n2027-01-01,holiday,元旦\n2027-02-14,上班,春节调休\n\n2027-02-08,放假,\n"
    arrangement = parse_year_file(text.encode(), 2027)
    assert arrangement.year == 2027
    assert arrangement.days == {date(2027, 1, 1): False, date(2027, 2, 14): True, date(2027, 2, 8): False}
    assert arrangement.notes[date(2027, 1, 1)] == "元旦" and arrangement.notes[date(2027, 2, 8)] is None


def test_year_file_json_and_the_year_from_the_file():
    text = '{"year": 2027, "days": [{"date": "2027-10-01", "kind": "holiday", "note": "国庆节"}]}'
    assert parse_year_file(text).days == {date(2027, 10, 1): False}
    assert parse_year_file(text, 2027, kind="json").year == 2027
    with pytest.raises(YearFileError) as refused:
        parse_year_file(text, 2028)
    assert "year" in refused.value.problems
    assert parse_year_file("date,kind\n2027-10-01,holiday\n").year == 2027  # the year from the dates


def test_year_file_reports_every_bad_line():
    text = ("date,kind,note\n2027-02-30,holiday,\n2028-01-01,holiday,\n2027-01-01,maybe,\n"
            "2027-01-02,workday,\n2027-01-02,holiday,\n,holiday,\n2027-03-01,holiday,x,y\n")
    with pytest.raises(YearFileError) as refused:
        parse_year_file(text.encode(), 2027)
    problems = refused.value.problems
    assert set(problems) == {"第 2 行", "第 3 行", "第 4 行", "第 6 行", "第 7 行", "第 8 行"}
    assert "2027-02-30" in problems["第 2 行"][0]
    assert "不属于 2027 年" in problems["第 3 行"][0]
    assert "maybe" in problems["第 4 行"][0]
    assert "重复" in problems["第 6 行"][0]
    assert "缺少日期" in problems["第 7 行"][0]
    assert "列数过多" in problems["第 8 行"][0]
    assert refused.value.message.startswith("日历文件有 6 处错误")


@pytest.mark.parametrize(("content", "where"), [
    (b"", "file"),
    (b"day,type\n2027-01-01,holiday\n", "第 1 行"),
    (b"date,kind\n", "file"),
    (b"\xff\xfe", "file"),
    (b"{not json", "file"),
    (b"x" * (64 * 1024 + 1), "file"),
    (b'{"days": "no"}', "days"),
])
def test_year_file_refuses_what_is_not_a_year_file(content, where):
    with pytest.raises(YearFileError) as refused:
        parse_year_file(content, 2027)
    assert where in refused.value.problems


def test_shipped_example_is_a_valid_2027_file():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "calendar-2027.csv"
    arrangement = parse_year_file(example.read_bytes(), 2027)
    assert arrangement.days[date(2027, 10, 1)] is False and arrangement.days[date(2027, 9, 26)] is True


# --- overrides -----------------------------------------------------------------------------------------------


def test_override_closes_an_ordinary_workday():
    cal = BusinessCalendar({date(2026, 11, 24): False})  # e.g. offices closed for a typhoon
    assert not cal.is_workday(date(2026, 11, 24))
    assert cal.add_working_days(sh(2026, 11, 23, 10), 1) == sh(2026, 11, 26)  # Monday -> Wednesday


def test_override_opens_a_weekend_day():
    cal = BusinessCalendar({date(2026, 11, 28): True})
    assert cal.is_workday(date(2026, 11, 28))
    assert cal.add_working_days(sh(2026, 11, 27, 10), 1) == sh(2026, 11, 29)  # Friday -> Saturday


def test_overrides_win_over_the_official_arrangement():
    cal = BusinessCalendar({date(2026, 10, 2): True, date(2026, 10, 10): False})
    assert cal.is_workday(date(2026, 10, 2))
    assert not cal.is_workday(date(2026, 10, 10))
    assert cal.add_working_days(sh(2026, 9, 30, 9), 1) == sh(2026, 10, 3)
    assert cal.add_working_days(sh(2026, 9, 30, 9), 4) == sh(2026, 10, 13)  # 2, 8, 9, 12


def test_overrides_apply_in_uncovered_years_and_stay_per_instance(cal):
    local = BusinessCalendar({date(2099, 10, 1): False})
    assert not local.is_workday(date(2099, 10, 1))
    assert not local.covers(2099)
    assert cal.is_workday(date(2099, 10, 1))


def test_override_keys_must_be_dates():
    with pytest.raises(TypeError):
        BusinessCalendar({datetime(2026, 10, 2): True})  # type: ignore[dict-item]


# --- refused input -------------------------------------------------------------------------------------------


def test_naive_datetimes_are_refused(cal):
    naive, aware = datetime(2026, 3, 2, 10), sh(2026, 3, 2, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working_days(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.subtract_working_days(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.working_days_between(naive, aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.working_days_between(aware, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.shift_by_pause(naive, aware, aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.shift_by_pause(aware, naive, aware)


@pytest.mark.parametrize("n", [0, -1, -30])
def test_non_positive_n_is_refused(cal, n):
    with pytest.raises(ValueError):
        cal.add_working_days(sh(2026, 3, 2, 10), n)


def test_is_workday_refuses_a_datetime(cal):
    with pytest.raises(TypeError):
        cal.is_workday(sh(2026, 3, 2, 10))


# --- subtract_working_days ---------------------------------------------------------------------------------------


def test_subtract_gives_the_start_of_the_last_working_days(cal):
    deadline = sh(2026, 3, 4)  # 24:00 Tuesday
    assert cal.subtract_working_days(deadline, 0) is deadline
    assert cal.subtract_working_days(deadline, 1) == sh(2026, 3, 3)  # 00:00 Tuesday
    assert cal.subtract_working_days(deadline, 2) == sh(2026, 3, 2)  # 00:00 Monday
    assert cal.subtract_working_days(deadline, 3) == sh(2026, 2, 28)  # Saturday make-up workday after Spring Festival
    assert cal.subtract_working_days(deadline, 4) == sh(2026, 2, 27)  # Friday


def test_subtract_across_national_day_2026(cal):
    deadline = sh(2026, 10, 9)  # 24:00 Thursday 8 Oct
    assert cal.subtract_working_days(deadline, 1) == sh(2026, 10, 8)
    assert cal.subtract_working_days(deadline, 2) == sh(2026, 9, 30)


def test_subtract_from_a_deadline_inside_a_day(cal):
    # 15:00 Wednesday: Wednesday has begun, so it is the first working day counted back.
    assert cal.subtract_working_days(sh(2026, 3, 4, 15), 1) == sh(2026, 3, 4)
    assert cal.subtract_working_days(datetime(2026, 3, 4, 7, tzinfo=UTC), 2) == sh(2026, 3, 3)


def test_subtract_refuses_negative_n(cal):
    with pytest.raises(ValueError):
        cal.subtract_working_days(sh(2026, 3, 4), -1)


def _starts() -> list[datetime]:
    # Every other day over three covered years, at varying times of day.
    first = sh(2024, 1, 1, 0, 0)
    return [first + timedelta(days=2 * i, minutes=97 * i % 1440) for i in range(550)]


def test_round_trip_subtract_add(cal):
    for start in _starts():
        first_working_day_start = cal.add_working_days(start, 1) - ONE_DAY
        for n in (1, 2, 3, 5, 8, 15):
            deadline = cal.add_working_days(start, n)
            # Counting all n working days back lands on the first working day after the start day ...
            assert cal.subtract_working_days(deadline, n) == first_working_day_start
            for k in range(1, n + 1):
                reminder = cal.subtract_working_days(deadline, k)
                assert reminder.astimezone(SH).time() == time(0)
                assert cal.is_workday(reminder.date())
                # ... and from the day before any reminder, k working days reach the deadline again.
                assert cal.add_working_days(reminder - EPSILON, k) == deadline


# --- working_days_between ---------------------------------------------------------------------------------------


def test_working_days_between(cal):
    monday = sh(2026, 3, 2, 10)
    assert cal.working_days_between(monday, monday) == 0
    assert cal.working_days_between(monday, sh(2026, 3, 2, 18)) == 0  # same day
    assert cal.working_days_between(sh(2026, 3, 3, 10), monday) == 0  # b before a
    assert cal.working_days_between(monday, sh(2026, 3, 3, 1)) == 1
    assert cal.working_days_between(sh(2026, 3, 6, 17), sh(2026, 3, 9, 9)) == 1  # Friday -> Monday
    assert cal.working_days_between(sh(2026, 3, 6, 17), sh(2026, 3, 8, 9)) == 0  # Friday -> Sunday
    assert cal.working_days_between(sh(2026, 9, 30, 9), sh(2026, 10, 8, 9)) == 1
    # 28, 29, 30 Sep, 8, 9, Saturday 10, 12 Oct
    assert cal.working_days_between(sh(2026, 9, 24, 9), sh(2026, 10, 12, 9)) == 7


def test_working_days_between_as_overdue_count(cal):
    deadline = sh(2026, 3, 4)  # 24:00 Tuesday
    assert cal.working_days_between(deadline, sh(2026, 3, 4, 10)) == 0
    assert cal.working_days_between(deadline, sh(2026, 3, 5, 10)) == 1
    assert cal.working_days_between(deadline, sh(2026, 3, 9, 10)) == 3  # Thu, Fri, Mon


def test_working_days_between_agrees_with_add(cal):
    for start in _starts()[::5]:
        for n in (1, 4, 12):
            assert cal.working_days_between(start, cal.add_working_days(start, n) - EPSILON) == n


# --- shift_by_pause ----------------------------------------------------------------------------------------------


def test_pause_moves_the_deadline_by_the_working_days_it_covered(cal):
    due = cal.add_working_days(sh(2026, 3, 2, 10), 5)
    assert due == sh(2026, 3, 10)  # 24:00 Monday 9 Mar
    # Paused Tuesday 10:00, materials back Thursday 15:00: Wednesday and Thursday are given back.
    assert cal.shift_by_pause(due, sh(2026, 3, 3, 10), sh(2026, 3, 5, 15)) == sh(2026, 3, 12)


def test_pause_within_one_day_moves_nothing(cal):
    due = sh(2026, 3, 10)
    assert cal.shift_by_pause(due, sh(2026, 3, 3, 9), sh(2026, 3, 3, 16)) is due


def test_pause_over_a_weekend_and_over_national_day(cal):
    assert cal.shift_by_pause(sh(2026, 3, 10), sh(2026, 3, 6, 16), sh(2026, 3, 9, 9)) == sh(2026, 3, 11)
    # Due 24:00 30 Sep; paused 29 Sep, back 8 Oct: covers 30 Sep and 8 Oct -> due end of Friday 9 Oct.
    assert cal.shift_by_pause(sh(2026, 10, 1), sh(2026, 9, 29, 10), sh(2026, 10, 8, 10)) == sh(2026, 10, 10)


def test_pause_keeps_the_time_of_day_of_a_non_midnight_due(cal):
    due = sh(2026, 3, 6, 17)  # Friday 17:00
    assert cal.shift_by_pause(due, sh(2026, 3, 2, 10), sh(2026, 3, 3, 10)) == sh(2026, 3, 9, 17)


def test_pause_ending_before_it_starts_is_refused(cal):
    with pytest.raises(ValueError):
        cal.shift_by_pause(sh(2026, 3, 10), sh(2026, 3, 5), sh(2026, 3, 4))


def test_pause_equals_recounting_the_remaining_days_from_resumption(cal):
    # Shifting must agree with "the remaining working days start again the day the materials come back".
    for start in _starts()[::7]:
        due = cal.add_working_days(start, 10)
        for pause_days, pause_len in ((1, 2), (2, 9), (4, 1), (6, 30)):
            paused_from = start + timedelta(days=pause_days)
            paused_until = paused_from + timedelta(days=pause_len, hours=3)
            remaining = cal.working_days_between(paused_from, due - EPSILON)
            if remaining < 1:
                continue
            assert cal.shift_by_pause(due, paused_from, paused_until) == cal.add_working_days(
                paused_until, remaining
            )
