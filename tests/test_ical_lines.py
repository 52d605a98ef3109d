"""The fast event writer (content.ical.event_bytes, notice_calendar_bytes) writes exactly
the bytes icalendar's own serialisation of the same event writes, for any text a user
could store, any instant (microseconds, other zones) and any mix of services; and the
octet folding matches icalendar's character-by-character folding for any line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from icalendar.parser.string import _foldline

from changemgmt.content.ical import (
    EventFacts,
    build_calendar,
    build_event,
    calendar_bytes,
    event_bytes,
    feed_calendar,
    feed_calendar_bytes,
    notice_calendar_bytes,
    notice_events,
)
from changemgmt.content.ical_lines import fold
from changemgmt.content.view import ServiceLine, WindowView
from changemgmt.domain.gcr import Contact
from changemgmt.domain.impact import Impact
from changemgmt.domain.status import Status
from support.hostile import ALLOWED, display_name, multi_line, one_line
from support.views import notice, window

ZONES = ["UTC", "America/Chicago", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]
PLAIN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'), min_size=1, max_size=20)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))]),
)
contacts = st.builds(
    Contact, display_name(), st.one_of(st.just(""), PLAIN.map(lambda x: f"{x}@example.net")), one_line(40)
)
service_lines = st.builds(
    ServiceLine,
    one_line(40, required=True),
    one_line(40),
    one_line(20),
    one_line(120),
    st.sampled_from(list(Impact)),
    st.one_of(st.none(), st.integers(0, 10_000)),
)
facts_strategy = st.builds(
    EventFacts,
    gcr_number=one_line(30, required=True),
    title=one_line(200, required=True),
    description=multi_line(400),
    reason=multi_line(200),
    work_location=one_line(120),
    status=st.sampled_from([s for s in Status if s is not Status.DRAFT]),
    emergency=st.booleans(),
    organizer=contacts,
    account=st.one_of(st.just(""), one_line(40, required=True)),
    time_zone=st.sampled_from(ZONES),
    services=st.lists(service_lines, max_size=4).map(tuple),
)


@st.composite
def windows(draw) -> WindowView:
    start = draw(instants)
    return WindowView(
        number=draw(st.integers(1, 12)),
        start=start,
        end=start + draw(st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=3))),
        sequence=draw(st.integers(0, 10_000)),
        last_modified=draw(instants),
        cancelled=draw(st.booleans()),
    )


DOMAINS = st.sampled_from(["example.net", "maint.example.org", "ünïcode.example"])


@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=facts_strategy, window_view=windows(), stamp=instants, domain=DOMAINS)
def test_it_writes_an_event_as_icalendar_does(facts, window_view, stamp, domain):
    expected = build_event(facts, window_view, provider_domain=domain, stamp=stamp).to_ical()
    assert event_bytes(facts, window_view, provider_domain=domain, stamp=stamp) == expected


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=facts_strategy, views=st.lists(windows(), min_size=1, max_size=3), stamp=instants, domain=DOMAINS)
def test_it_writes_a_notice_calendar_as_icalendar_does(facts, views, stamp, domain):
    views = [
        WindowView(n + 1, w.start, w.end, w.sequence, w.last_modified, cancelled=w.cancelled)
        for n, w in enumerate(views)
    ]
    uid = f"{facts.gcr_number}-{facts.account}@{domain}"
    events = notice_events(facts, reversed(views), provider_domain=domain, stamp=stamp)
    expected = calendar_bytes(build_calendar(events, uid=uid))
    assert notice_calendar_bytes(facts, reversed(views), uid=uid, provider_domain=domain, stamp=stamp) == expected


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    uid=one_line(120, required=True),
    name=display_name(300, required=True),
    refresh=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=9)),
    source=st.one_of(st.none(), PLAIN.map(lambda token: f"https://maint.example.net/calendars/{token}.ics")),
)
def test_it_writes_a_feed_header_as_icalendar_does(uid, name, refresh, source):
    expected = calendar_bytes(feed_calendar([], uid=uid, name=name, refresh=refresh, source=source))
    assert feed_calendar_bytes(uid=uid, name=name, refresh=refresh, source=source) == expected


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(["a", "abc", "é", "東", "😀", "\\", "^", "\\n"]), st.text(ALLOWED, max_size=3)),
        max_size=150,
    ).map("".join)
)
@example("a" * 73 + "\\bc")
@example("a" * 73 + "^bc")
@example("a" * 72 + "éb")
@example("é" * 80)
@example("a" * 74)
def test_it_folds_by_octets_as_icalendar_folds_by_characters(line):
    line = line.replace("\n", "").replace("\r", "")
    assert fold(line.encode()) == _foldline(line).encode() + b"\r\n"


def test_it_shares_the_lines_of_one_gcr_window_between_customers():
    view = notice()
    one = EventFacts.from_view(view)
    other = EventFacts(**{**one.__dict__, "account": "OTHER-002", "time_zone": "UTC"})
    first = event_bytes(one, window(1), provider_domain="example.net", stamp=view.issued_at)
    second = event_bytes(other, window(1), provider_domain="example.net", stamp=view.issued_at)
    assert b"X-MAINTNOTE-ACCOUNT:ACME-001" in first and b"X-MAINTNOTE-ACCOUNT:OTHER-002" in second
    assert first.split(b"DTSTAMP")[0] == second.split(b"DTSTAMP")[0]


@pytest.mark.parametrize("what", ["start", "end", "last_modified"])
def test_it_refuses_a_naive_time_as_the_icalendar_builder_does(what):
    facts = EventFacts.from_view(notice())
    naive = WindowView(1, datetime(2026, 12, 1, 7), datetime(2026, 12, 1, 11), 2, datetime(2026, 11, 1, 9))
    aware = window(1)
    view = WindowView(**{**aware.__dict__, what: getattr(naive, what)})
    with pytest.raises(ValueError, match="must carry a time zone"):
        event_bytes(facts, view, provider_domain="example.net", stamp=notice().issued_at)
