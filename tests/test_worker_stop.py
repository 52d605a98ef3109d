"""The worker records each outcome as soon as it is known, winds down on a stop within
its grace period (puts back what it never sent, abandons what still hangs), and its
claims are its own while its heartbeat lives (the clock's `leases` job)."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from changemgmt.delivery.claim import claim_due
from changemgmt.delivery.render import Renderer
from changemgmt.delivery.transports import InMemoryTransport
from changemgmt.delivery.worker import Worker
from changemgmt.jobs.leases import Leases
from changemgmt.store import models
from support.waiting import eventually

GCR = {
    "number": "GCR-6101",
    "title": "Fibre splice",
    "description": "Splicing fibre.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}],
}
TIMEOUT = timedelta(seconds=20)


class HeldTransport(InMemoryTransport):
    """Each send waits until the test lets it go (`release()`), and says it started."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Semaphore(0)
        self.gate = threading.Event()

    def send(self, message):
        self.started.release()
        self.gate.wait(30)
        return super().send(message)


@pytest.fixture
def held():
    transport = HeldTransport()
    yield transport
    transport.gate.set()


def states(db) -> dict[int, tuple[str, int]]:
    with db() as session:
        return {d.id: (d.state, d.attempts) for d in session.scalars(select(models.Delivery))}


def attempts(db) -> list[tuple[int, int, str | None]]:
    with db() as session:
        rows = session.scalars(select(models.DeliveryAttempt).order_by(models.DeliveryAttempt.id))
        return [(a.delivery_id, a.number, a.outcome) for a in rows]


def in_thread(call) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_each_outcome_is_recorded_as_soon_as_it_is_known_not_when_the_batch_ends(desk, engine, settings, clock, db):
    class SecondHangs(InMemoryTransport):
        gate = threading.Event()

        def send(self, message):
            if self.sent:
                self.gate.wait(30)
            return super().send(message)

    transport = SecondHangs()
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1), concurrency=1)
    desk.publish(GCR)
    draining = in_thread(worker.drain)
    eventually(lambda: sorted(s for s, _ in states(db).values()) == ["sending", "sent"])
    transport.gate.set()
    draining.join(10)
    worker.close()
    assert sorted(s for s, _ in states(db).values()) == ["sent", "sent"]


def test_a_stop_records_the_send_in_flight_and_puts_back_at_once_what_was_never_sent(
    desk, engine, settings, clock, db, held
):
    worker = Worker(engine, held, settings, clock, rng=random.Random(1), concurrency=1, grace=5)
    desk.publish(GCR)
    stop = threading.Event()
    draining = in_thread(lambda: worker.drain(stop))
    assert held.started.acquire(timeout=10)  # the first send is in flight, the second waits for a permit
    stop.set()
    held.gate.set()
    draining.join(10)
    worker.close()
    assert not draining.is_alive()
    assert sorted(states(db).values()) == [("pending", 0), ("sent", 1)]  # the unsent one: as if never claimed
    assert [a[1:] for a in attempts(db)] == [(1, "sent")]
    with db() as session:
        assert session.scalar(select(models.Delivery.claimed_by).where(models.Delivery.state == "pending")) is None


def test_while_every_send_permit_is_taken_the_next_message_is_rendered_and_given_back_unsent_on_a_stop(
    desk, engine, settings, clock, db, held
):
    rendered = []

    class CountingRenderer(Renderer):
        def render(self, view, **kwargs):
            rendered.append(view.notice_id)
            return super().render(view, **kwargs)

    worker = Worker(engine, held, settings, clock, concurrency=1, grace=5, renderer=CountingRenderer())
    desk.publish({**GCR, "impacts": [*GCR["impacts"], {"service": "INIT-ETH-9"}]})  # three customers
    stop = threading.Event()
    draining = in_thread(lambda: worker.drain(stop))
    assert held.started.acquire(timeout=10)
    eventually(lambda: len(rendered) == 3)  # all rendered while the one permit is held by the first send
    assert len(held.sent) == 0
    stop.set()
    held.gate.set()
    draining.join(10)
    worker.close()
    # Rendered ahead, never sent: put back as if never claimed.
    assert sorted(states(db).values()) == [("pending", 0), ("pending", 0), ("sent", 1)]


def test_a_send_still_hanging_at_the_end_of_the_grace_period_is_abandoned_and_due_again(
    desk, engine, settings, clock, db, held
):
    worker = Worker(engine, held, settings, clock, rng=random.Random(1), concurrency=2, grace=0.5)
    desk.publish(GCR)
    stop = threading.Event()
    draining = in_thread(lambda: worker.drain(stop))
    assert held.started.acquire(timeout=10) and held.started.acquire(timeout=10)
    asked = time.monotonic()
    stop.set()
    draining.join(10)
    took = time.monotonic() - asked
    worker.close()
    assert took < 0.5 + 0.3
    assert sorted(states(db).values()) == [("pending", 1), ("pending", 1)]
    assert sorted(a[1:] for a in attempts(db)) == [(1, "abandoned"), (1, "abandoned")]


def beating(engine, process_id: str, at) -> None:
    """The heartbeat row of a live worker, last beating at `at`."""
    table = models.Process.__table__
    with engine.begin() as connection:
        changed = connection.execute(update(table).where(table.c.id == process_id).values(beat_at=at)).rowcount
        if not changed:
            connection.execute(
                insert(table).values(id=process_id, kind="worker", host="h", pid=1, started_at=at, beat_at=at)
            )


def test_a_live_workers_claims_are_never_taken_however_long_its_sends_take(desk, engine, clock, db):
    desk.publish(GCR)
    beating(engine, "worker-h-1-0", clock())
    assert len(claim_due(engine, now=clock(), limit=10, lease=timedelta(minutes=5), worker="worker-h-1-0")) == 2
    leases = Leases()
    for _ in range(10):  # an hour and more of sending, the heartbeat alive throughout
        clock.advance(minutes=7)
        beating(engine, "worker-h-1-0", clock() - timedelta(seconds=5))
        assert leases.rescue(engine, clock(), TIMEOUT) == 0
    assert {s for s, _ in states(db).values()} == {"sending"}


def test_a_silent_workers_claims_come_back_once_its_heartbeat_is_older_than_the_timeout(desk, engine, clock, db):
    desk.publish(GCR)
    beating(engine, "worker-h-2-0", clock())
    claim_due(engine, now=clock(), limit=10, lease=timedelta(minutes=5), worker="worker-h-2-0")
    leases = Leases()
    for _ in range(4):  # the clock has had the database all along; the worker died at once
        assert leases.rescue(engine, clock(), TIMEOUT) == 0
        clock.advance(seconds=5)
    clock.advance(seconds=1)
    assert leases.rescue(engine, clock(), TIMEOUT) == 2
    assert sorted(a[1:] for a in attempts(db)) == [(1, "abandoned"), (1, "abandoned")]


def test_after_losing_the_database_the_clock_judges_no_heartbeat_for_a_whole_timeout(desk, engine, clock, db):
    """Every heartbeat is old when the database comes back: the live workers need a beat
    to show it, so the judge waits."""
    desk.publish(GCR)
    beating(engine, "worker-h-3-0", clock())
    claim_due(engine, now=clock(), limit=10, lease=timedelta(minutes=5), worker="worker-h-3-0")
    leases = Leases()
    assert leases.rescue(engine, clock(), TIMEOUT) == 0
    clock.advance(minutes=2)  # the database was away: no run worked, no beat either
    assert leases.rescue(engine, clock(), TIMEOUT) == 0  # old heartbeat, but not judged yet
    clock.advance(seconds=5)
    beating(engine, "worker-h-3-0", clock())  # the worker beats again
    clock.advance(seconds=16)
    assert leases.rescue(engine, clock(), TIMEOUT) == 0
    assert {s for s, _ in states(db).values()} == {"sending"}


def test_a_stopped_workers_leftover_claims_come_back_at_once(desk, engine, clock, db):
    desk.publish(GCR)
    beating(engine, "worker-h-4-0", clock())
    claim_due(engine, now=clock(), limit=10, lease=timedelta(minutes=5), worker="worker-h-4-0")
    table = models.Process.__table__
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == "worker-h-4-0").values(stopped_at=clock()))
    assert Leases().rescue(engine, clock(), TIMEOUT) == 2
