"""What a feed file says (SPEC §5, STANDARDS A): the calendar's properties, each event
as the email attachment has it, enterprise and internal feeds, and the same bytes for
the same state."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from changemgmt.content.ical import calendar_bytes, feed_calendar
from changemgmt.delivery.compose import NoticeFacts, compose_views
from changemgmt.delivery.message import build_ics
from changemgmt.feeds.blocks import assemble, block_of, split_feed
from changemgmt.feeds.publisher import rebuild_all, rebuild_dirty
from changemgmt.feeds.registry import Scope, feed_url
from changemgmt.store import models
from support.feeds import GCR, Feeds, events, parse, uid


@pytest.fixture
def feeds(db, settings, clock, desk):
    desk.publish(GCR)
    clock.advance(hours=3)
    desk.update(
        "GCR-1001",
        {
            "windows": [
                GCR["windows"][0] | {"number": 1},
                {"number": 2, "start": "2026-12-09T07:00Z", "end": "2026-12-09T10:00Z"},
            ]
        },
    )
    rebuild_all(db, settings, clock())
    return Feeds(db, settings, clock)


def test_the_calendar_carries_name_refresh_interval_ttl_source_and_no_method(feeds, settings):
    data = feeds.read("ACC-1001")
    calendar = parse(data)
    name = "Example Networks maintenance: Acme Logistics (ACC-1001)"
    assert (calendar["VERSION"], calendar["PRODID"]) == ("2.0", "-//changemgmt//Maintenance notices//EN")
    assert data.count(f"\r\nNAME:{name}\r\n".encode()) == 1
    assert data.count(f"\r\nX-WR-CALNAME:{name}\r\n".encode()) == 1
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in data
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in data
    assert str(calendar["SOURCE"]) == feed_url(settings, feeds.token("ACC-1001").token)
    assert calendar["SOURCE"].params["VALUE"] == "URI"
    assert str(calendar["UID"]) == "feed-customer-ACC-1001@example.net"
    assert b"METHOD" not in data


def test_each_event_has_the_bcop_properties_and_only_the_customers_services(feeds):
    event = feeds.events("ACC-1001")[uid(1)]
    assert str(event["X-MAINTNOTE-PROVIDER"]) == "example.net"
    assert str(event["X-MAINTNOTE-ACCOUNT"]) == "ACC-1001"
    assert str(event["X-MAINTNOTE-MAINTENANCE-ID"]) == "GCR-1001"
    assert [str(v) for v in event["X-MAINTNOTE-OBJECT-ID"]] == ["ACME-DIA-2", "ACME-ETH-1"]
    assert [v.params["X-MAINTNOTE-OBJECT-IMPACT"] for v in event["X-MAINTNOTE-OBJECT-ID"]] == ["DEGRADED", "OUTAGE"]
    assert str(event["X-MAINTNOTE-IMPACT"]) == "OUTAGE"
    assert str(event["ORGANIZER"]) == "mailto:change-management@example.net"
    assert "GLBX" not in event.to_ical().decode()
    assert str(feeds.events("ACC-1001")[uid(2)]["X-MAINTNOTE-MAINTENANCE-ID"]) == "GCR-1001-2"


def test_the_feed_event_is_the_email_attachments_event(feeds, db, settings, clock):
    """Same UID, SEQUENCE and content; only DTSTAMP differs (time of issue in an email)."""
    with db() as session:
        acme = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-1001"))
        notice = session.scalars(
            select(models.Notice).where(models.Notice.customer_id == acme.id).order_by(models.Notice.id.desc())
        ).first()
        view = compose_views(session, [NoticeFacts.of(notice)], settings, clock() + timedelta(hours=1))[notice.id]
    attached = events(build_ics(view, settings))
    shown = feeds.events("ACC-1001")
    assert sorted(attached) == sorted(shown)
    for key, event in shown.items():
        assert attached[key]["DTSTAMP"].dt == clock() + timedelta(hours=1)
        del event["DTSTAMP"], attached[key]["DTSTAMP"]
        assert event.to_ical() == attached[key].to_ical()


def test_the_enterprise_feed_holds_its_accounts_events_and_nobody_elses(feeds):
    shown = feeds.events("ENT-100", Scope.ENTERPRISE)
    assert sorted(shown) == [uid(1), uid(2)]
    acme = feeds.events("ACC-1001")
    assert all(shown[key].to_ical() == acme[key].to_ical() for key in shown)
    name = parse(feeds.read("ENT-100", Scope.ENTERPRISE))["NAME"]
    assert name == "Example Networks maintenance: Acme Holdings (ENT-100) and its accounts"
    assert feeds.events("ENT-100") == {}  # its own customer feed: nothing impacts it directly


def test_the_internal_feed_has_one_event_per_window_with_every_service(feeds):
    shown = feeds.events(None, Scope.INTERNAL)
    assert sorted(shown) == [uid(1, None), uid(2, None)]
    event = shown[uid(1, None)]
    assert sorted(str(v) for v in event["X-MAINTNOTE-OBJECT-ID"]) == ["ACME-DIA-2", "ACME-ETH-1", "GLBX-WAVE-1"]
    assert "X-MAINTNOTE-ACCOUNT" not in event
    assert "for ACC-2002 (Globex Corp)" in str(event["DESCRIPTION"])
    assert event["SEQUENCE"] == 3 and shown[uid(2, None)]["SEQUENCE"] == 3


def test_the_same_state_gives_the_same_bytes(feeds, db, settings, clock):
    before = {path.name: path.read_bytes() for path in settings.calendars_dir.glob("*.ics")}
    for path in settings.calendars_dir.glob("*.ics"):
        path.unlink()
    clock.advance(hours=5)
    written = rebuild_all(db, settings, clock())
    assert written.unchanged == 0 and written.total == len(before)
    assert {path.name: path.read_bytes() for path in settings.calendars_dir.glob("*.ics")} == before
    assert rebuild_all(db, settings, clock()).total == 0
    assert rebuild_dirty(db, settings, clock()).total == 0


def test_a_feed_is_what_feed_calendar_would_write(feeds):
    """Assembling blocks changes nothing: the bytes are those of the shared builder."""
    data = feeds.read("ENT-100", Scope.ENTERPRISE)
    calendar = parse(data)
    header = feed_calendar(
        [],
        uid=str(calendar["UID"]),
        name=str(calendar["NAME"]),
        refresh=timedelta(hours=1),
        source=str(calendar["SOURCE"]),
    )
    whole = feed_calendar(
        calendar.walk("VEVENT"),
        uid=str(calendar["UID"]),
        name=str(calendar["NAME"]),
        refresh=timedelta(hours=1),
        source=str(calendar["SOURCE"]),
    )
    assert calendar_bytes(whole) == data
    assert assemble(header, reversed(split_feed(data))) == data
    assert [block_of(e).uid for e in calendar.walk("VEVENT")] == [uid(1), uid(2)]


def test_times_are_utc_and_lines_are_folded(feeds):
    data = feeds.read(None, Scope.INTERNAL)
    parse(data)
    assert re.findall(rb"\r\nDTSTART:(\d{8}T\d{6}Z)\r\n", data) == [b"20261201T070000Z", b"20261209T070000Z"]
    assert max(len(line) for line in data.split(b"\r\n")) <= 75
