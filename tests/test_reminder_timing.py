"""Reminders go out at their moment, even while a big publication is being sent: the tick
plans them a little ahead, due at their moment, and a worker takes them before the `new`
notices waiting in the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from changemgmt.delivery.claim import claim_due
from changemgmt.delivery.transports import InMemoryTransport
from changemgmt.delivery.worker import Worker
from changemgmt.domain.notice import NoticeKind
from changemgmt.jobs.tick import tick
from changemgmt.jobs.worker_loop import idle_pause
from changemgmt.store import models

START = datetime(2026, 12, 1, 7, tzinfo=UTC)
MOMENT = START - timedelta(hours=72)


def gcr(number: str, service: str, start: datetime = START) -> dict:
    return {
        "number": number,
        "title": "Fibre splice",
        "description": "Splicing fibre.",
        "windows": [{"start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat()}],
        "impacts": [{"service": service, "impact": "OUTAGE"}],
    }


@pytest.fixture
def outbox():
    return InMemoryTransport()


@pytest.fixture
def worker(engine, settings, clock, outbox):
    worker = Worker(engine, outbox, settings, clock)
    yield worker
    worker.close()


def reminders(db) -> list[tuple[datetime, datetime]]:
    """(notice due_at, delivery next_attempt_at) of every reminder planned."""
    with db() as session:
        rows = session.execute(
            select(models.Notice.due_at, models.Delivery.next_attempt_at)
            .join(models.Delivery, models.Delivery.notice_id == models.Notice.id)
            .where(models.Notice.kind == NoticeKind.REMINDER.value)
        )
        return [tuple(row) for row in rows]


def test_a_reminder_is_planned_ahead_and_sent_at_its_moment_not_before(desk, worker, outbox, clock, db, settings):
    assert settings.reminder_lookahead == timedelta(seconds=60)
    desk.publish(gcr("GCR-7101", "GLBX-WAVE-1"))
    worker.drain()
    clock.now = MOMENT - timedelta(seconds=61)
    tick(db, settings, clock())
    assert reminders(db) == []  # not yet within the lookahead
    clock.now = MOMENT - timedelta(seconds=30)
    tick(db, settings, clock())
    assert reminders(db) == [(MOMENT, MOMENT)]  # planned, due at its moment
    worker.drain()
    assert [m.subject.split(":")[0] for m in outbox.sent] == ["New"]
    clock.now = MOMENT
    tick(db, settings, clock())  # nothing new to plan: the reminder is there already
    worker.drain()
    assert [m.subject.split(":")[0] for m in outbox.sent] == ["New", "Reminder"]
    assert len(reminders(db)) == 1


def test_a_due_reminder_goes_before_the_new_notices_of_a_later_publication(desk, worker, engine, clock, db, settings):
    desk.publish(gcr("GCR-7102", "GLBX-WAVE-1"))
    worker.drain()
    clock.now = MOMENT - timedelta(seconds=30)
    tick(db, settings, clock())  # Globex's reminder, due at MOMENT
    clock.now = MOMENT - timedelta(seconds=10)
    desk.publish(gcr("GCR-7103", "ACME-ETH-1", START + timedelta(days=7)))  # Acme's `new`, due now
    clock.now = MOMENT + timedelta(seconds=1)
    (first,) = claim_due(engine, now=clock(), limit=1, lease=timedelta(minutes=5), worker="w")
    with db() as session:
        kind = session.scalar(select(models.Notice.kind).where(models.Notice.id == first.notice_id))
    assert kind == NoticeKind.REMINDER.value


def test_an_idle_worker_pauses_only_until_the_next_delivery_falls_due(desk, worker, clock, db, settings):
    desk.publish(gcr("GCR-7104", "GLBX-WAVE-1"))
    worker.drain()
    assert worker.seconds_to_next_due() is None  # nothing waits: the whole idle pause
    clock.now = MOMENT - timedelta(seconds=30)
    tick(db, settings, clock())  # the reminder, due at MOMENT
    assert worker.seconds_to_next_due() == 30.0
    assert idle_pause(worker, idle=2.0) == 2.0
    clock.now = MOMENT - timedelta(seconds=0.25)
    assert idle_pause(worker, idle=2.0) == 0.25  # wakes at the reminder's moment, not 1.75 s late
    clock.now = MOMENT
    assert worker.seconds_to_next_due() is None  # due now: the worker's round takes it, no pause
    assert worker.drain() == 1
