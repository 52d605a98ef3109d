"""Every feed read by an independent parser that real clients use: ical.js, Mozilla's,
behind Thunderbird (STANDARDS B11). It must see what icalendar sees: the same events,
UIDs, SEQUENCEs, STATUSes and UTC instants, no floating time, REFRESH-INTERVAL typed
as a duration, no METHOD."""

from __future__ import annotations

from datetime import UTC

import pytest

from changemgmt.domain.status import Status
from changemgmt.feeds.publisher import rebuild_all
from changemgmt.feeds.registry import Scope
from changemgmt.store.db import transaction
from support.feeds import GCR, Feeds, ical_js, parse
from support.gcrs import Clock, Desk
from world import build_world


@pytest.fixture
def feeds(db, settings, now):
    clock = Clock(now)
    with transaction(db) as session:
        build_world(session)
    desk = Desk(db, settings, clock)
    desk.publish(GCR | {"title": "Fusion d’une fibre à Zürich — 東京 link; a,b\\c"})
    # Across the start of US daylight saving time, entered in Chicago time.
    desk.publish(
        GCR
        | {
            "number": "GCR-1002",
            "time_zone": "America/Chicago",
            "windows": [{"start": "2027-03-14T01:00", "end": "2027-03-14T04:00"}],
        },
        Status.TENTATIVE,
    )
    desk.publish(GCR | {"number": "GCR-1003"})
    clock.advance(days=1)
    desk.update("GCR-1003", {"windows": [GCR["windows"][0] | {"number": 1}]})
    desk.status("GCR-1001", Status.CANCELLED)
    rebuild_all(db, settings, clock())
    return Feeds(db, settings, clock)


def test_ical_js_reads_every_feed_as_icalendar_does(feeds, settings):
    paths = [feeds.path(a) for a in ("ACC-1001", "ACC-2002", "ACC-3003", "ENT-100")]
    paths += [feeds.path("ENT-100", Scope.ENTERPRISE), feeds.path(None, Scope.INTERNAL)]
    read = ical_js(paths)
    assert sum(len(feed["events"]) for feed in read) > 10
    for path, seen in zip(paths, read):
        calendar = parse(path.read_bytes())
        assert seen["method"] is None
        assert seen["refresh_interval"] == {"type": "duration", "value": "PT1H"}
        assert seen["name"]["value"] == seen["x_wr_calname"]["value"] == str(calendar["NAME"])
        assert _events(seen) == _expected(calendar), path.name


def _events(seen: dict) -> dict:
    result = {}
    for event in seen["events"]:
        for name in ("start", "end", "dtstamp", "last_modified"):
            assert event[name]["zone"] == "UTC", (event["uid"], name, event[name])
        result[event["uid"]] = (
            event["sequence"],
            event["status"],
            event["start"]["utc"],
            event["end"]["utc"],
            event["summary"],
            sorted(event["object_ids"]),
        )
    return result


def _expected(calendar) -> dict:
    def iso(value) -> str:
        return value.dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    result = {}
    for event in calendar.walk("VEVENT"):
        ids = event.get("X-MAINTNOTE-OBJECT-ID", [])
        ids = ids if isinstance(ids, list) else [ids]
        result[str(event["UID"])] = (
            int(event["SEQUENCE"]),
            str(event["STATUS"]),
            iso(event["DTSTART"]),
            iso(event["DTEND"]),
            str(event["SUMMARY"]),
            sorted(str(i) for i in ids),
        )
    return result


def test_the_dst_window_is_the_same_instant_for_both_parsers(feeds):
    seen = ical_js([feeds.path("ACC-2002")])[0]
    window = next(e for e in seen["events"] if e["uid"] == "GCR-1002-W1-ACC-2002@example.net")
    # 01:00 CST (UTC-6) to 04:00 CDT (UTC-5): the night the clocks go forward.
    assert (window["start"]["utc"], window["end"]["utc"]) == ("2027-03-14T07:00:00.000Z", "2027-03-14T09:00:00.000Z")
