"""A GCR's life as a subscriber's calendar shows it: published, confirmed, rescheduled,
a customer dropped, cancelled, completed, aged out. Real database, real files; the
feeds are rebuilt the way production does it, from the requests GCR changes record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from changemgmt.domain.retention import kept
from changemgmt.domain.status import Status
from changemgmt.feeds.publisher import rebuild_all, rebuild_dirty
from changemgmt.feeds.registry import Scope
from changemgmt.store import models
from changemgmt.store.db import transaction
from support.feeds import GCR, at, uid


@pytest.fixture
def rebuild(db, settings, clock):
    return lambda: rebuild_dirty(db, settings, clock())


def test_a_draft_appears_in_no_feed(desk, feeds, rebuild, db, settings, clock):
    desk.create(GCR)
    rebuild_all(db, settings, clock())
    for account in ("ACC-1001", "ACC-2002", "ACC-3003", "ENT-100"):
        assert feeds.events(account) == {}
    assert feeds.events(None, Scope.INTERNAL) == {}


def test_publishing_shows_each_window_tentative_then_confirmed(desk, feeds, rebuild, clock):
    desk.publish(GCR, Status.TENTATIVE)
    rebuild()
    published = clock()
    shown = feeds.events("ACC-1001")
    assert sorted(shown) == [uid(1), uid(2)]
    for event in shown.values():
        assert (event["STATUS"], event["X-MAINTNOTE-STATUS"], event["SEQUENCE"]) == ("TENTATIVE", "TENTATIVE", 2)
        assert event["DTSTAMP"].dt == event["LAST-MODIFIED"].dt == published
    assert shown[uid(1)]["DTSTART"].dt == at("2026-12-01T07:00Z")
    clock.advance(hours=2)
    desk.status("GCR-1001", Status.CONFIRMED)
    rebuild()
    for event in feeds.events("ACC-1001").values():
        assert (event["STATUS"], event["X-MAINTNOTE-STATUS"], event["SEQUENCE"]) == ("CONFIRMED", "CONFIRMED", 3)
        assert event["DTSTAMP"].dt == published + timedelta(hours=2)


def test_rescheduling_keeps_the_uid_raises_the_sequence_and_moves_the_times(desk, feeds, rebuild, clock):
    desk.publish(GCR)
    rebuild()
    before = feeds.events("ACC-1001")
    clock.advance(days=1)
    desk.update(
        "GCR-1001",
        {
            "windows": [
                {"number": 1, "start": "2026-12-02T07:00Z", "end": "2026-12-02T12:00Z"},
                GCR["windows"][1] | {"number": 2},
            ]
        },
    )
    rebuild()
    after = feeds.events("ACC-1001")
    moved, kept = after[uid(1)], after[uid(2)]
    assert moved["SEQUENCE"] == 3 > before[uid(1)]["SEQUENCE"]
    assert (moved["DTSTART"].dt, moved["DTEND"].dt) == (at("2026-12-02T07:00Z"), at("2026-12-02T12:00Z"))
    assert moved["DTSTAMP"].dt == clock()
    assert kept.to_ical() == before[uid(2)].to_ical()  # moving window 1 leaves window 2 alone


def test_a_customer_dropped_from_scope_sees_its_events_cancelled(desk, feeds, rebuild, clock):
    desk.publish(GCR)
    rebuild()
    acme_before = feeds.read("ACC-1001")
    clock.advance(days=1)
    desk.update("GCR-1001", {"impacts": [i for i in GCR["impacts"] if not i["service"].startswith("GLBX")]})
    written = rebuild()
    for event in feeds.events("ACC-2002").values():
        assert (event["STATUS"], event["X-MAINTNOTE-STATUS"], event["SEQUENCE"]) == ("CANCELLED", "CANCELLED", 3)
        assert str(event["X-MAINTNOTE-OBJECT-ID"]) == "GLBX-WAVE-1"  # a cancelled event still lists it
        assert str(event["SUMMARY"]).startswith("CANCELLED: ")
    assert feeds.read("ACC-1001") == acme_before  # another customer's change leaves Acme untouched
    assert written.customer == 1


def test_cancelling_the_gcr_cancels_every_event(desk, feeds, rebuild, clock):
    desk.publish(GCR)
    rebuild()
    clock.advance(days=1)
    desk.status("GCR-1001", Status.CANCELLED)
    rebuild()
    for account in ("ACC-1001", "ACC-2002", "ENT-100"):
        shown = feeds.events(account, Scope.ENTERPRISE if account == "ENT-100" else Scope.CUSTOMER)
        assert shown and {str(e["STATUS"]) for e in shown.values()} == {"CANCELLED"}
        assert {e["SEQUENCE"] for e in shown.values()} == {3}
    assert {str(e["STATUS"]) for e in feeds.events(None, Scope.INTERNAL).values()} == {"CANCELLED"}


def test_completing_cancels_the_windows_not_yet_started(desk, feeds, rebuild, clock):
    desk.publish(GCR)
    clock.now = at("2026-12-01T07:30Z")
    desk.status("GCR-1001", Status.IN_PROGRESS)
    rebuild()
    assert {str(e["X-MAINTNOTE-STATUS"]) for e in feeds.events("ACC-1001").values()} == {"IN-PROCESS"}
    clock.now = at("2026-12-01T11:30Z")
    desk.status("GCR-1001", Status.COMPLETED)
    rebuild()
    shown = feeds.events("ACC-1001")
    assert (shown[uid(1)]["STATUS"], shown[uid(1)]["X-MAINTNOTE-STATUS"]) == ("CONFIRMED", "COMPLETED")
    assert (shown[uid(2)]["STATUS"], shown[uid(2)]["X-MAINTNOTE-STATUS"]) == ("CANCELLED", "CANCELLED")
    internal = feeds.events(None, Scope.INTERNAL)
    assert (internal[uid(1, None)]["STATUS"], internal[uid(2, None)]["STATUS"]) == ("CONFIRMED", "CANCELLED")


def test_events_age_out_after_the_retention_period(desk, feeds, db, settings):
    desk.publish(GCR)
    last_end = at("2026-12-08T11:00Z")
    rebuild_all(db, settings, last_end + timedelta(days=30))
    assert sorted(feeds.events("ACC-1001")) == [uid(2)]  # window 1 ended a week earlier
    assert sorted(feeds.events(None, Scope.INTERNAL)) == [uid(2, None)]
    rebuild_all(db, settings, last_end + timedelta(days=30, seconds=1))
    assert feeds.events("ACC-1001") == {}
    assert feeds.events(None, Scope.INTERNAL) == {}


def test_a_cancelled_event_stays_until_retention_after_its_cancellation(desk, feeds, db, settings, clock):
    desk.publish(GCR)
    clock.now = at("2026-12-05T00:00Z")  # after window 1 ended, before window 2
    desk.update("GCR-1001", {"impacts": [i for i in GCR["impacts"] if not i["service"].startswith("GLBX")]})
    cancelled_at = clock()
    rebuild_all(db, settings, cancelled_at + timedelta(days=30))
    assert sorted(feeds.events("ACC-2002")) == [uid(1, "ACC-2002"), uid(2, "ACC-2002")]
    rebuild_all(db, settings, at("2026-12-08T11:00Z") + timedelta(days=30))  # window 2's end is later
    assert sorted(feeds.events("ACC-2002")) == [uid(2, "ACC-2002")]
    rebuild_all(db, settings, at("2026-12-08T11:00Z") + timedelta(days=30, seconds=1))
    assert feeds.events("ACC-2002") == {}


def test_an_inactive_customer_gets_an_empty_feed(desk, feeds, db, settings, clock):
    desk.publish(GCR)
    with transaction(db) as session:
        session.query(models.Customer).filter_by(account="ACC-1001").update({"active": False})
    rebuild_all(db, settings, clock())
    assert feeds.events("ACC-1001") == {}
    assert feeds.events("ENT-100", Scope.ENTERPRISE) == {}
    assert sorted(feeds.events("ACC-2002")) == [uid(1, "ACC-2002"), uid(2, "ACC-2002")]


END = datetime(2026, 12, 1, 11, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    "cutoff, cancelled, modified, expected",
    [
        (END - DAY, False, END - 9 * DAY, True),  # window ended within N days
        (END, False, END - 9 * DAY, True),  # exactly N days after the end
        (END + DAY, False, END + 5 * DAY, False),  # changed later, but not cancelled: by end only
        (END + DAY, True, END + 5 * DAY, True),  # cancelled after the end: N days after the cancellation
        (END + 6 * DAY, True, END + 5 * DAY, False),
        (END + DAY, True, END - 5 * DAY, False),  # cancelled before the end: N days after the end
    ],
)
def test_retention_is_measured_from_the_later_of_end_and_cancellation(cutoff, cancelled, modified, expected):
    """`cutoff` is now minus the retention period."""
    assert kept(END, cancelled, modified, cutoff) is expected
