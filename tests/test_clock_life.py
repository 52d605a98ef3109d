"""A GCR's life under a controlled clock: the clock's jobs (tick, feeds, retention) run
by id at each moment, the worker sends with the same clock, and every customer gets
exactly the notices due to it, at their moments, no more."""

from __future__ import annotations

from datetime import timedelta

import pytest

from changemgmt.delivery.transports import InMemoryTransport
from changemgmt.delivery.worker import Worker
from support.clocks import Clocks
from support.feeds import Feeds


@pytest.fixture
def outbox():
    return InMemoryTransport()


@pytest.fixture
def worker(engine, settings, clock, outbox):
    worker = Worker(engine, outbox, settings, clock)
    yield worker
    worker.close()


@pytest.fixture
def clocks(engine, settings, clock, db):
    made = Clocks(engine, settings, clock)
    yield made
    made.stop()


def window(start, **number) -> dict:
    return {**number, "start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat()}


def received(messages) -> dict[str, list[str]]:
    """Each address's notices, in the order they went out: their kind, as the subject says."""
    mail: dict[str, list[str]] = {}
    for message in messages:
        for recipient in message.recipients:
            mail.setdefault(recipient.email, []).append(message.subject.split(":")[0])
    return mail


def test_a_gcr_lives_its_life_under_the_clock_and_each_customer_hears_exactly_what_is_due(
    desk, clocks, worker, outbox, clock, db, settings
):
    the_clock = clocks(auto_complete_after=timedelta(hours=1))
    assert the_clock.begin()
    start = clock() + timedelta(days=10)

    def at(moment) -> dict[str, list[str]]:
        """Runs the clock's jobs and the worker at `moment`; returns what went out then."""
        clock.now = moment
        before = len(outbox.sent)
        for job in ("tick", "feeds", "retention"):
            outcome = the_clock.runner.run(job)
            assert outcome is None or outcome.ok, outcome
        worker.drain()
        return received(outbox.sent[before:])

    desk.publish(
        {
            "number": "GCR-9001",
            "title": "Ring upgrade",
            "description": "Upgrading the ring.",
            "windows": [window(start)],
            "impacts": [{"service": "ACME-ETH-1", "impact": "OUTAGE"}, {"service": "GLBX-WAVE-1"}],
        }
    )
    everyone = {"noc@acme.example", "it@acme-holdings.example", "ops@globex.example"}
    assert at(clock()) == {address: ["New"] for address in everyone}
    assert at(start - timedelta(hours=73)) == {}
    assert at(start - timedelta(hours=72)) == {address: ["Reminder"] for address in everyone}
    assert at(start - timedelta(hours=71)) == {}

    clock.now = start - timedelta(hours=30)
    moved = start + timedelta(days=7)
    desk.update("GCR-9001", {"windows": [window(moved, number=1)]})
    assert at(clock()) == {address: ["Rescheduled"] for address in everyone}
    assert at(start - timedelta(hours=24)) == {}  # the old 24 h moment: superseded, never sent
    assert at(start) == {}  # the old start: nothing starts
    assert at(moved - timedelta(hours=72)) == {address: ["Reminder"] for address in everyone}
    assert at(moved - timedelta(hours=24)) == {address: ["Reminder"] for address in everyone}
    assert at(moved - timedelta(minutes=1)) == {}
    assert at(moved) == {address: ["Started"] for address in everyone}
    end = moved + timedelta(hours=4)
    assert at(end + timedelta(minutes=59)) == {}
    assert at(end + timedelta(hours=1)) == {address: ["Completed"] for address in everyone}

    expected = ["New", "Reminder", "Rescheduled", "Reminder", "Reminder", "Started", "Completed"]
    assert received(outbox.sent) == {address: expected for address in everyone}  # Initech: nothing
    feeds = Feeds(db, settings, clock)
    uid = "GCR-9001-W1-ACC-2002@example.net"
    assert at(end + timedelta(days=29, hours=23)) == {}
    assert uid in feeds.events("ACC-2002")  # kept until 30 days after its window's end
    assert at(end + timedelta(days=30, hours=1)) == {}
    assert uid in feeds.events("ACC-2002")  # the daily pass ran two hours ago: the next takes it
    assert at(end + timedelta(days=30, hours=23)) == {}
    assert uid not in feeds.events("ACC-2002")  # the daily retention pass took it out
