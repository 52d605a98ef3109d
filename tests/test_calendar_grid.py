"""The calendar's days (web.ui.calendar): periods, and windows placed on the days of the
viewer's zone, over midnight and across a DST change."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from changemgmt.domain.errors import DomainError, DomainErrors
from changemgmt.domain.status import Status
from changemgmt.web.ui.calendar import Entry, parse_period, period_of, weeks

TODAY = date(2026, 11, 2)


def entry(start: str, end: str, number: str = "GCR-1") -> Entry:
    return Entry(number, "Work", Status.CONFIRMED, f"/g/{number}", _utc(start), _utc(end))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def placed(period, entries, zone: str) -> dict[str, list[str]]:
    return {
        str(d.date): [p.times for p in d.placed]
        for week in weeks(period, entries, zone, TODAY)
        for d in week
        if d.placed
    }


@pytest.mark.parametrize(
    ("view", "start", "first", "end", "grid", "previous"),
    [
        ("month", "2026-12-17", "2026-12-01", "2027-01-01", ("2026-11-30", "2027-01-04"), "2026-11-01"),
        ("month", "2027-02-01", "2027-02-01", "2027-03-01", ("2027-02-01", "2027-03-01"), "2027-01-01"),
        ("week", "2026-12-09", "2026-12-07", "2026-12-14", ("2026-12-07", "2026-12-14"), "2026-11-30"),
        ("week", "2027-01-03", "2026-12-28", "2027-01-04", ("2026-12-28", "2027-01-04"), "2026-12-21"),
    ],
)
def test_a_period_runs_monday_to_sunday_over_whole_weeks(view, start, first, end, grid, previous):
    period = parse_period(view, start, TODAY)
    assert (str(period.first), str(period.end), str(period.previous), period.next) == (first, end, previous, period.end)
    assert (str(period.grid_first), str(period.grid_end)) == grid


def test_the_default_is_the_month_holding_today():
    assert parse_period(None, None, TODAY) == period_of("month", date(2026, 11, 1))


def test_bad_input_names_every_field():
    with pytest.raises(DomainErrors) as raised:
        parse_period("fortnight", "2026-13-01", TODAY)
    assert [e.field for e in raised.value.errors] == ["view", "start"]


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01"])
def test_a_start_beyond_the_calendars_years_is_refused(start):
    with pytest.raises(DomainError, match="start: must be from 1970-01-01 to 2999-12-31"):
        parse_period("month", start, TODAY)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", {"2026-12-10": ["04:00–08:00"]}),
        ("America/Chicago", {"2026-12-09": ["from 22:00"], "2026-12-10": ["until 02:00"]}),
        ("Asia/Tokyo", {"2026-12-10": ["13:00–17:00"]}),
    ],
)
def test_a_window_is_on_each_day_it_touches_in_the_viewers_zone(zone, expected):
    period = period_of("month", date(2026, 12, 1))
    assert placed(period, [entry("2026-12-10T04:00", "2026-12-10T08:00")], zone) == expected


def test_a_long_window_is_all_day_in_its_middle_and_ending_at_midnight_stays_on_its_day():
    period = period_of("week", date(2026, 12, 7))
    long = entry("2026-12-07T20:00", "2026-12-10T06:00")
    to_midnight = entry("2026-12-12T20:00", "2026-12-13T00:00", "GCR-2")
    assert placed(period, [long, to_midnight], "UTC") == {
        "2026-12-07": ["from 20:00"],
        "2026-12-08": ["all day"],
        "2026-12-09": ["all day"],
        "2026-12-10": ["until 06:00"],
        "2026-12-12": ["20:00–00:00"],
    }


def test_days_follow_the_zone_across_a_dst_change():
    # Chicago falls back on Sun 1 Nov 2026: that day is 25 hours long, 05:00Z to 06:00Z next day.
    period = period_of("week", date(2026, 11, 1))
    late = entry("2026-11-02T05:30", "2026-11-02T05:45")  # 23:30 CST on Sun 1 Nov
    assert placed(period, [late], "America/Chicago") == {"2026-11-01": ["23:30–23:45"]}


def test_entries_of_a_day_are_ordered_by_start():
    period = period_of("week", date(2026, 12, 7))
    later, sooner = (
        entry("2026-12-08T12:00", "2026-12-08T13:00", "GCR-9"),
        entry("2026-12-08T09:00", "2026-12-08T10:00", "GCR-8"),
    )
    (day,) = [d for week in weeks(period, [later, sooner], "UTC", TODAY) for d in week if d.placed]
    assert [p.entry.number for p in day.placed] == ["GCR-8", "GCR-9"]
