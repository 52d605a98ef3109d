"""The shared iCalendar event builder: BCOP properties, RFC 5545 form, determinism."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from changemgmt.content.ical import (
    EventFacts,
    build_calendar,
    build_event,
    calendar_bytes,
    feed_calendar,
    notice_events,
)
from changemgmt.content.view import ServiceLine
from changemgmt.domain.impact import Impact
from changemgmt.domain.status import Status
from support.feeds import ical_js
from support.hostile import texts
from support.views import CM, ISSUED, REVISED, notice, window

DOMAIN = "example.net"


def facts(**changes) -> EventFacts:
    return replace(EventFacts.from_view(notice()), **changes)


def ics(the_facts: EventFacts | None = None, windows=None, stamp=ISSUED) -> bytes:
    the_facts = the_facts or facts()
    events = notice_events(the_facts, windows or (window(1), window(2)), provider_domain=DOMAIN, stamp=stamp)
    return calendar_bytes(build_calendar(events, uid=f"GCR-1001-ACME-001@{DOMAIN}"))


def parse(data: bytes) -> Calendar:
    calendar = Calendar.from_ical(data)
    for component in calendar.walk():
        assert component.errors == [], (component.name, component.errors)
    return calendar


def events_of(data: bytes) -> list:
    return parse(data).walk("VEVENT")


def raw_lines(data: bytes, name: str) -> list[bytes]:
    unfolded = data.replace(b"\r\n ", b"")
    return [line for line in unfolded.split(b"\r\n") if line.split(b";")[0].split(b":")[0] == name.encode()]


def test_it_builds_one_event_per_window_with_stable_uids():
    first, second = events_of(ics())
    assert str(first["UID"]) == "GCR-1001-W1-ACME-001@example.net"
    assert str(second["UID"]) == "GCR-1001-W2-ACME-001@example.net"


def test_it_is_byte_identical_for_the_same_input():
    assert ics() == ics()


def test_it_writes_the_given_stamp_and_the_window_revision():
    event = events_of(ics(stamp=ISSUED))[0]
    assert event["DTSTAMP"].dt == ISSUED
    assert event["LAST-MODIFIED"].dt == REVISED
    assert event["SEQUENCE"] == 2


def test_a_feed_stamp_makes_the_output_independent_of_the_issue_time():
    w = window(1)
    a = build_event(facts(), w, provider_domain=DOMAIN, stamp=w.last_modified)
    b = build_event(facts(), w, provider_domain=DOMAIN, stamp=w.last_modified)
    assert a.to_ical() == b.to_ical()
    assert b"DTSTAMP:20261101T093000Z" in a.to_ical()


def test_it_writes_times_in_utc_only():
    data = ics()
    assert b"DTSTART:20261201T070000Z" in data
    assert b"DTEND:20261201T110000Z" in data
    assert b"TZID" not in data


def test_it_refuses_naive_datetimes():
    naive = window(1, start=datetime(2026, 12, 1, 7, 0))
    with pytest.raises(ValueError, match="naive"):
        build_event(facts(), naive, provider_domain=DOMAIN, stamp=ISSUED)
    with pytest.raises(ValueError, match="naive"):
        build_event(facts(), window(1), provider_domain=DOMAIN, stamp=datetime(2026, 1, 1))


def test_every_datetime_is_aware_after_parsing():
    for event in events_of(ics()):
        for name in ("DTSTART", "DTEND", "DTSTAMP", "LAST-MODIFIED"):
            assert event[name].dt.utcoffset() == timedelta(0)


def test_it_has_no_method_and_the_calendar_basics():
    data = ics()
    assert b"METHOD" not in data
    calendar = parse(data)
    assert calendar["VERSION"] == "2.0"
    assert "changemgmt" in str(calendar["PRODID"])


def test_it_writes_the_bcop_properties():
    first, second = events_of(ics())
    assert str(first["X-MAINTNOTE-PROVIDER"]) == "example.net"
    assert str(first["X-MAINTNOTE-ACCOUNT"]) == "ACME-001"
    assert str(first["X-MAINTNOTE-MAINTENANCE-ID"]) == "GCR-1001"
    assert str(second["X-MAINTNOTE-MAINTENANCE-ID"]) == "GCR-1001-2"
    assert str(first["X-MAINTNOTE-IMPACT"]) == "OUTAGE"
    assert str(first["X-MAINTNOTE-STATUS"]) == "CONFIRMED"
    assert str(first["STATUS"]) == "CONFIRMED"


def test_it_writes_exactly_one_maintenance_id_per_event():
    data = ics()
    assert len(raw_lines(data, "X-MAINTNOTE-MAINTENANCE-ID")) == 2
    for event in events_of(data):
        assert not isinstance(event["X-MAINTNOTE-MAINTENANCE-ID"], list)


def test_it_lists_every_service_with_its_impact_when_there_are_several():
    lines = raw_lines(ics(), "X-MAINTNOTE-OBJECT-ID")[:2]
    assert lines == [
        b"X-MAINTNOTE-OBJECT-ID;X-MAINTNOTE-OBJECT-IMPACT=OUTAGE:ETH-10G-0001",
        b"X-MAINTNOTE-OBJECT-ID;X-MAINTNOTE-OBJECT-IMPACT=REDUCED-REDUNDANCY:DIA-0042",
    ]


def test_a_single_service_carries_its_impact_in_x_maintnote_impact():
    one = facts(services=(ServiceLine("WAVE-9", "Wave 100G", "100 Gbps", "DAL", Impact.DEGRADED),))
    data = ics(one, windows=(window(1),))
    assert raw_lines(data, "X-MAINTNOTE-OBJECT-ID") == [b"X-MAINTNOTE-OBJECT-ID:WAVE-9"]
    assert raw_lines(data, "X-MAINTNOTE-IMPACT") == [b"X-MAINTNOTE-IMPACT:DEGRADED"]


@pytest.mark.parametrize(
    "status, ical, maintnote",
    [
        (Status.TENTATIVE, "TENTATIVE", "TENTATIVE"),
        (Status.CONFIRMED, "CONFIRMED", "CONFIRMED"),
        (Status.IN_PROGRESS, "CONFIRMED", "IN-PROCESS"),
        (Status.COMPLETED, "CONFIRMED", "COMPLETED"),
        (Status.CANCELLED, "CANCELLED", "CANCELLED"),
    ],
)
def test_it_maps_the_status(status, ical, maintnote):
    event = events_of(ics(facts(status=status)))[0]
    assert str(event["STATUS"]) == ical
    assert str(event["X-MAINTNOTE-STATUS"]) == maintnote


def test_a_cancelled_window_is_cancelled_but_still_lists_the_services():
    first, second = events_of(ics(windows=(window(1), window(2, cancelled=True))))
    assert str(first["STATUS"]) == "CONFIRMED"
    assert str(second["STATUS"]) == "CANCELLED"
    assert str(second["X-MAINTNOTE-STATUS"]) == "CANCELLED"
    assert str(second["SUMMARY"]).startswith("CANCELLED: [GCR-1001]")
    assert [str(x) for x in second["X-MAINTNOTE-OBJECT-ID"]] == ["ETH-10G-0001", "DIA-0042"]


def test_it_writes_summary_description_location_and_organizer():
    event = events_of(ics())[0]
    assert str(event["SUMMARY"]) == "[GCR-1001] Fibre splice on the Dallas ring — Planned maintenance"
    description = str(event["DESCRIPTION"])
    assert "Splicing a new fibre pair" in description
    assert "rising loss" in description
    assert "ETH-10G-0001" in description and "DIA-0042" in description
    assert "Tue 1 Dec 2026 01:00 CST (07:00 UTC)" in description
    assert "quoting GCR-1001" in description
    assert str(event["LOCATION"]) == "Dallas, TX (DLLSTX01)"
    assert str(event["ORGANIZER"]) == "mailto:change-management@example.net"
    assert event["ORGANIZER"].params["CN"] == "Change Management"


def test_it_escapes_text_and_round_trips_it():
    tricky = "a;b,c\\d\nx: y"
    data = ics(facts(title=tricky, work_location=tricky, account="AC;ME,1\\"))
    assert b"a\\;b\\,c\\\\d\\nx: y" in data.replace(b"\r\n ", b"")
    event = events_of(data)[0]
    assert str(event["LOCATION"]) == tricky
    assert tricky in str(event["SUMMARY"])
    assert raw_lines(data, "X-MAINTNOTE-ACCOUNT")[0] == b"X-MAINTNOTE-ACCOUNT:AC\\;ME\\,1\\\\"


def test_a_line_break_in_an_x_value_cannot_inject_lines():
    data = ics(facts(account="ACME\r\nBEGIN:VEVENT"))
    assert data.split(b"\r\n").count(b"BEGIN:VEVENT") == 2
    assert raw_lines(data, "X-MAINTNOTE-ACCOUNT")[0] == b"X-MAINTNOTE-ACCOUNT:ACME\\nBEGIN:VEVENT"


def test_it_uses_crlf_and_folds_at_75_octets_without_splitting_utf8():
    long_title = "Spleißarbeiten 東京 € " * 12
    data = ics(facts(title=long_title, description="Ünïcödé " * 40))
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert data.endswith(b"\r\n")
    for line in data.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # each physical line decodes on its own
    assert long_title.strip() in str(events_of(data)[0]["SUMMARY"])


def test_the_feed_calendar_names_itself_once_and_types_its_refresh_interval():
    events = [build_event(facts(), window(1), provider_domain=DOMAIN, stamp=REVISED)]
    calendar = feed_calendar(
        events,
        uid="feed-ACME-001@example.net",
        name="Example Networks maintenance",
        refresh=timedelta(hours=1),
        source="https://cm.example.net/calendars/t.ics",
    )
    data = calendar_bytes(calendar)
    assert data.count(b"\r\nNAME:") == 1 and data.count(b"X-WR-CALNAME:") == 1
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in data
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in data
    assert b"SOURCE;VALUE=URI:https://cm.example.net/calendars/t.ics\r\n" in data
    assert b"METHOD" not in data
    parse(data)


def test_the_organizer_falls_back_to_change_management_without_a_contact_email():
    view = notice(contact=replace(CM, name="Field team", email=""))
    fallback = replace(CM, email="cm@example.net")
    assert EventFacts.from_view(view, fallback).organizer == fallback


def test_stamps_in_other_zones_are_written_in_utc():
    stamp = datetime(2026, 11, 2, 9, 0, tzinfo=timezone(timedelta(hours=-6)))
    assert b"DTSTAMP:20261102T150000Z" in ics(stamp=stamp)


def test_a_backslash_before_an_n_stays_a_backslash_in_every_text_property(tmp_path):
    # icalendar's own escaping reads `\N` as a line break: "C:" and "etwork".
    data = ics(facts(title=r"Patch C:\Network", description=r"Copy from \\NAS01\New first", work_location=r"Rack \N2"))
    assert rb"Patch C:\\Network" in data and rb"\\\\NAS01\\New" in data
    event = texts(data)[events_of(data)[0]["UID"]]
    assert r"Patch C:\Network" in event["SUMMARY"]
    assert r"Work: Copy from \\NAS01\New first" in event["DESCRIPTION"]
    assert event["LOCATION"] == r"Rack \N2"
    path = tmp_path / "event.ics"
    path.write_bytes(data)
    theirs = ical_js([path])[0]["events"][0]
    assert (theirs["summary"], theirs["location"]) == (event["SUMMARY"], event["LOCATION"])
    assert theirs["description"] == event["DESCRIPTION"]
