import re
from datetime import UTC, datetime, timedelta

import pytest

from changemgmt.domain.errors import DomainError
from changemgmt.domain.gcr import (
    GcrState,
    ServiceImpact,
    changed_fields,
    check_number,
    check_state,
    check_title,
    is_customer_visible,
)
from changemgmt.domain.impact import Impact, worst
from changemgmt.domain.policy import check_minimum_notice, needs_emergency_notice
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window, parse_instant

UTC = UTC
PATTERN = re.compile(r"GCR-\d+")


def state(**overrides) -> GcrState:
    values = dict(
        number="GCR-1",
        title="Splice",
        description="Work",
        status=Status.DRAFT,
        windows=(Window(1, datetime(2026, 12, 1, 7, tzinfo=UTC), datetime(2026, 12, 1, 11, tzinfo=UTC)),),
        impacts=(ServiceImpact("SVC-1", Impact.OUTAGE),),
    )
    values.update(overrides)
    return GcrState(**values)


@pytest.mark.parametrize("number", ["GCR-1", "GCR-20261101"])
def test_it_accepts_gcr_numbers_of_the_pattern(number):
    assert check_number(number, PATTERN) == number


@pytest.mark.parametrize("number", ["GCR1", "gcr-1", "GCR-", "GCR-12a", "CHG-1", " "])
def test_it_refuses_gcr_numbers_off_the_pattern(number):
    with pytest.raises(DomainError) as error:
        check_number(number, PATTERN)
    assert error.value.field == "number"


def test_the_gcr_number_pattern_is_configurable():
    assert check_number("CHG0012345", re.compile(r"CHG\d{7}")) == "CHG0012345"


@pytest.mark.parametrize("title", ["two\nlines", "carriage\rreturn", "   "])
def test_it_refuses_titles_that_are_not_one_line(title):
    with pytest.raises(DomainError) as error:
        check_title(title)
    assert error.value.field == "title"


def test_a_window_must_end_after_it_starts():
    start = datetime(2026, 12, 1, 7, tzinfo=UTC)
    with pytest.raises(DomainError, match="after the start") as error:
        Window(2, start, start)
    assert error.value.field == "windows[2].end"


def test_a_window_refuses_naive_times():
    with pytest.raises(DomainError, match="time zone"):
        Window(1, datetime(2026, 12, 1, 7), datetime(2026, 12, 1, 9, tzinfo=UTC))


def test_local_times_are_stored_in_utc():
    assert parse_instant("2026-12-01T01:00", "America/Chicago", "start") == datetime(2026, 12, 1, 7, tzinfo=UTC)
    assert parse_instant("2026-07-01T01:00", "America/Chicago", "start") == datetime(2026, 7, 1, 6, tzinfo=UTC)


def test_times_with_an_offset_need_no_zone():
    assert parse_instant("2026-12-01T01:00-05:00", None, "start") == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert parse_instant("2026-12-01T01:00Z", None, "start") == datetime(2026, 12, 1, 1, tzinfo=UTC)


def test_a_time_without_offset_or_zone_is_refused():
    with pytest.raises(DomainError, match="no UTC offset") as error:
        parse_instant("2026-12-01T01:00", None, "windows[1].start")
    assert error.value.field == "windows[1].start"


def test_a_time_in_the_spring_forward_gap_is_refused():
    with pytest.raises(DomainError, match="does not exist"):
        parse_instant("2026-03-08T02:30", "America/Chicago", "windows[1].start")


def test_an_ambiguous_fall_back_time_is_refused_unless_the_offset_is_given():
    with pytest.raises(DomainError, match="happens twice"):
        parse_instant("2026-11-01T01:30", "America/Chicago", "windows[1].start")
    assert parse_instant("2026-11-01T01:30-06:00", "America/Chicago", "s") == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("wall", "zone", "explained"),
    [
        ("2027-03-14T02:30", "America/Chicago", "does not exist in America/Chicago: clocks jump from 02:00 to 03:00"),
        ("2026-03-29T02:30", "Europe/Berlin", "does not exist in Europe/Berlin: clocks jump from 02:00 to 03:00"),
        ("2026-10-04T02:15", "Australia/Lord_Howe", "clocks jump from 02:00 to 02:30"),  # a half-hour change
        (
            "2026-11-01T01:30",
            "America/Chicago",
            "happens twice in America/Chicago: clocks go back from 02:00 to 01:00; "
            "give the UTC offset (-05:00 for the first, -06:00 for the second)",
        ),
        ("2026-04-05T01:45", "Australia/Lord_Howe", "clocks go back from 02:00 to 01:30"),
    ],
)
def test_a_skipped_or_repeated_local_time_is_explained(wall, zone, explained):
    with pytest.raises(DomainError) as error:
        parse_instant(wall, zone, "windows[1].start")
    assert explained in error.value.message and error.value.message.startswith(f"{wall[11:]} on {wall[:10]} ")


def test_an_unknown_zone_is_named():
    with pytest.raises(DomainError, match="IANA") as error:
        parse_instant("2026-12-01T01:00", "Mars/Olympus", "windows[1].start")
    assert error.value.field == "windows[1].start.time_zone"


def test_impacts_order_from_none_to_outage():
    assert worst([Impact.DEGRADED, Impact.NO_IMPACT, Impact.REDUCED_REDUNDANCY]) is Impact.DEGRADED
    assert worst([]) is Impact.NO_IMPACT
    assert Impact.parse("reduced redundancy") is Impact.REDUCED_REDUNDANCY
    with pytest.raises(DomainError, match="not an impact level"):
        Impact.parse("SOME")


def test_a_published_gcr_needs_impacts_and_windows():
    with pytest.raises(DomainError) as error:
        check_state(state(status=Status.CONFIRMED, impacts=()), PATTERN)
    assert error.value.field == "impacts"
    with pytest.raises(DomainError) as error:
        check_state(state(windows=()), PATTERN)
    assert error.value.field == "windows"


@pytest.mark.parametrize(
    ("change", "visible"),
    [
        ({"title": "New title"}, True),
        ({"description": "Other work"}, True),
        ({"status": Status.CONFIRMED}, True),
        ({"impacts": (ServiceImpact("SVC-1", Impact.DEGRADED),)}, True),
        ({"windows": (Window(1, datetime(2026, 12, 2, 7, tzinfo=UTC), datetime(2026, 12, 2, 9, tzinfo=UTC)),)}, True),
        ({"internal_notes": "call Bob first"}, False),
    ],
)
def test_it_tells_customer_visible_changes_from_internal_ones(change, visible):
    changes = changed_fields(state(), state(**change))
    assert changes == frozenset(change)
    assert is_customer_visible(changes) is visible


def test_the_order_of_impacts_is_not_a_change():
    a = state(impacts=(ServiceImpact("A", Impact.OUTAGE), ServiceImpact("B", Impact.OUTAGE)))
    b = state(impacts=(ServiceImpact("B", Impact.OUTAGE), ServiceImpact("A", Impact.OUTAGE)))
    assert changed_fields(a, b) == frozenset()


def test_state_round_trips_through_json():
    original = state(location_codes=("B", "A")).canonical()
    assert GcrState.from_json(original.to_json()) == original


def test_minimum_notice_refuses_short_notice_unless_emergency_or_overridden():
    now = datetime(2026, 11, 28, tzinfo=UTC)
    window = state().windows[0]  # starts 3 days later
    with pytest.raises(DomainError, match="minimum notice") as error:
        check_minimum_notice([window], now=now, minimum=timedelta(days=7), emergency=False, override_reason=None)
    assert error.value.field == "windows[1].start"
    check_minimum_notice([window], now=now, minimum=timedelta(days=7), emergency=True, override_reason=None)
    check_minimum_notice([window], now=now, minimum=timedelta(days=7), emergency=False, override_reason="outage")
    assert needs_emergency_notice([window], now=now, minimum=timedelta(days=7), emergency=False)
    assert not needs_emergency_notice(
        [window], now=now - timedelta(days=30), minimum=timedelta(days=7), emergency=False
    )
