"""The worker against real peers: a loopback SendGrid that validates every request
against SendGrid's published schema, and a real SMTP server."""

from __future__ import annotations

import random
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from changemgmt.delivery.claim import claim_due, rescue_expired
from changemgmt.delivery.transports import InMemoryTransport, SendError, SendGridTransport, SmtpTransport
from changemgmt.delivery.worker import Worker
from changemgmt.store import models
from support.sendgrid_server import FakeSendGrid
from support.smtp_server import SmtpServer

GCR = {
    "number": "GCR-6001",
    "title": "Fibre splice",
    "description": "Splicing fibre.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}],
}


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


def make_worker(engine, settings, clock, transport) -> Worker:
    return Worker(engine, transport, settings, clock, rng=random.Random(1))


@pytest.fixture
def sendgrid_worker(engine, settings, clock, sendgrid):
    transport = SendGridTransport("SG.test-key", sendgrid.url, timeout=5, clock=lambda: clock().timestamp())
    worker = make_worker(engine, settings, clock, transport)
    yield worker
    worker.close()


def deliveries(db) -> list[models.Delivery]:
    with db() as session:
        return session.scalars(select(models.Delivery).order_by(models.Delivery.id)).all()


def attempts(db) -> list[tuple[int, int, str]]:
    with db() as session:
        rows = session.scalars(select(models.DeliveryAttempt).order_by(models.DeliveryAttempt.id))
        return [(a.delivery_id, a.number, a.outcome) for a in rows]


def test_sendgrid_gets_one_valid_request_per_customer_notice_with_one_personalization_per_contact(
    desk, sendgrid_worker, sendgrid, db
):
    desk.publish(GCR)
    assert sendgrid_worker.drain() == 2
    assert sendgrid.problems == []
    bodies = sorted((r.body for r in sendgrid.requests), key=lambda b: len(b["personalizations"]))
    assert [[p["to"][0]["email"] for p in b["personalizations"]] for b in bodies] == [
        ["ops@globex.example"],
        ["noc@acme.example", "it@acme-holdings.example"],
    ]
    for body in bodies:
        for personalization in body["personalizations"]:
            assert personalization["custom_args"]["delivery_id"].isdigit()
            assert "List-Unsubscribe" in personalization["headers"]
    assert {d.provider_message_id for d in deliveries(db)} == {"fake-msg-1", "fake-msg-2"}


def test_sendgrid_greets_each_contact_by_its_own_organisation(desk, sendgrid_worker, sendgrid):
    desk.publish(GCR)
    sendgrid_worker.drain()
    (acme,) = [r.body for r in sendgrid.requests if len(r.body["personalizations"]) == 2]
    greeted = {
        p["to"][0]["email"]: {v for k, v in p["substitutions"].items() if k.startswith("-org")}
        for p in acme["personalizations"]
    }
    assert greeted == {"noc@acme.example": {"Acme Logistics"}, "it@acme-holdings.example": {"Acme Holdings"}}
    enterprise_feed = {
        p["to"][0]["email"]: "".join(v for k, v in p["substitutions"].items() if k.startswith("-ent"))
        for p in acme["personalizations"]
    }  # only the enterprise's own contact is shown its enterprise feed
    assert enterprise_feed["noc@acme.example"] == ""
    assert "All accounts of Acme Holdings in one calendar" in enterprise_feed["it@acme-holdings.example"]
    text = acme["content"][0]["value"]
    assert "Acme Holdings" not in text and "This notice concerns your account Acme Logistics (ACC-1001)." in text
    assert all(
        key in text or key in acme["content"][1]["value"]
        for p in acme["personalizations"]
        for key in p["substitutions"]
    )


def test_a_429_waits_for_the_reset_time_then_succeeds(desk, engine, settings, sendgrid, clock, db):
    desk.publish(GCR)
    transport = SendGridTransport("SG.test-key", sendgrid.url, timeout=5, clock=lambda: clock().timestamp())
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1), concurrency=1)
    reset = int(clock().timestamp()) + 120
    sendgrid.rate_limit_next(reset_at=reset)
    assert worker.drain() == 2  # one met the 429; sending paused, the other was held back untried
    waiting = deliveries(db)
    assert {d.state for d in waiting} == {"pending"}
    assert all(d.next_attempt_at.timestamp() == reset for d in waiting)
    assert worker.drain() == 0  # nothing is due before the reset
    clock.advance(seconds=120)
    assert worker.drain() == 2
    worker.close()
    assert {d.state for d in deliveries(db)} == {"sent"}
    assert sorted(a[1:] for a in attempts(db)) == [(1, "retry"), (1, "sent"), (2, "sent")]


def test_a_500_is_retried_with_backoff(desk, sendgrid_worker, sendgrid, clock, db):
    desk.publish(GCR)
    sendgrid.answer_next(500, times=2, body={"errors": [{"message": "internal"}]})
    sendgrid_worker.drain()
    first = deliveries(db)
    assert {d.state for d in first} == {"pending"} and all("500" in d.last_error for d in first)
    clock.advance(minutes=2)
    assert sendgrid_worker.drain() == 2
    assert {d.state for d in deliveries(db)} == {"sent"}


def test_a_400_fails_at_once_without_retrying(desk, sendgrid_worker, sendgrid, clock, db):
    desk.publish(GCR)
    settled_at = clock()
    sendgrid.answer_next(400, times=1, body={"errors": [{"message": "bad", "field": "from"}]})
    sendgrid_worker.drain()
    clock.advance(hours=3)
    sendgrid_worker.drain()
    states = sorted((d.state, d.attempts) for d in deliveries(db))
    assert states == [("failed", 1), ("sent", 1)]
    with db() as session:
        notices = session.scalars(select(models.Notice)).all()
        assert sorted(n.state for n in notices) == ["failed", "sent"]
        assert {n.settled_at for n in notices} == {settled_at}


def test_a_refused_connection_is_retried(desk, engine, settings, clock, db, sendgrid):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    worker = make_worker(
        engine, settings, clock, SendGridTransport("SG.k", f"http://127.0.0.1:{closed_port}", timeout=2)
    )
    desk.publish(GCR)
    worker.drain()
    worker.close()
    assert {d.state for d in deliveries(db)} == {"pending"}
    assert all("unreachable" in d.last_error for d in deliveries(db))
    clock.advance(hours=2)
    retry = make_worker(engine, settings, clock, SendGridTransport("SG.k", sendgrid.url, timeout=5))
    assert retry.drain() == 2
    retry.close()
    assert {d.state for d in deliveries(db)} == {"sent"}


def test_a_later_notice_waits_while_an_earlier_one_to_the_same_customer_is_retrying(desk, engine, settings, clock, db):
    transport = InMemoryTransport()
    worker = make_worker(engine, settings, clock, transport)
    desk.publish({**GCR, "impacts": [{"service": "GLBX-WAVE-1"}]})
    transport.fail_next(SendError("busy", permanent=False))
    worker.drain()
    desk.update("GCR-6001", {"windows": [{"number": 1, "start": "2026-12-02T07:00Z", "end": "2026-12-02T11:00Z"}]})
    assert worker.drain() == 0  # the rescheduled notice may not overtake the new one
    clock.advance(hours=1)
    assert worker.drain() == 2
    worker.close()
    assert [m.subject.split(":")[0] for m in transport.sent] == ["New", "Rescheduled"]


def test_a_dead_workers_claim_returns_after_its_lease(desk, engine, settings, clock, db):
    desk.publish(GCR)
    claims = claim_due(engine, now=clock(), limit=10, lease=timedelta(minutes=5), worker="dead")
    assert len(claims) == 2
    assert claim_due(engine, now=clock(), limit=10, lease=timedelta(minutes=5), worker="other") == []
    clock.advance(minutes=6)
    transport = InMemoryTransport()
    worker = make_worker(engine, settings, clock, transport)
    assert worker.drain() == 0  # the claim leaves rescuing to the clock: the rows stay `sending`
    assert rescue_expired(engine, now=clock()) == 2
    assert worker.drain() == 2
    worker.close()
    assert len(transport.sent) == 2
    assert sorted(a[1:] for a in attempts(db)) == [(1, "abandoned"), (1, "abandoned"), (2, "sent"), (2, "sent")]


def test_smtp_delivers_each_contact_its_own_copy(desk, engine, settings, clock, db):
    with SmtpServer() as server:
        worker = make_worker(engine, settings, clock, SmtpTransport("127.0.0.1", server.port, timeout=5))
        desk.publish(GCR)
        assert worker.drain() == 2
        worker.close()
        received = {m.parsed()["To"].addresses[0].addr_spec: m.parsed() for m in server.messages}
    assert set(received) == {"noc@acme.example", "it@acme-holdings.example", "ops@globex.example"}
    globex = received["ops@globex.example"]
    assert "GCR-6001" in globex["Subject"] and globex["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {d.state for d in deliveries(db)} == {"sent"}


def test_drain_sends_everything_once_in_order_across_many_small_batches(desk, engine, settings, clock, db):
    """drain() claims the next batch while this one sends: a delivery held back by an
    earlier one still in flight goes in a later batch of the same drain, never twice."""
    transport = InMemoryTransport()
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1), batch_size=1, concurrency=2)
    desk.publish(GCR)
    for _ in range(2):
        transport.fail_next(SendError("busy", permanent=False))
    assert worker.drain() == 2
    desk.update("GCR-6001", {"windows": [{"number": 1, "start": "2026-12-02T07:00Z", "end": "2026-12-02T11:00Z"}]})
    clock.advance(hours=1)
    assert worker.drain() == 4
    worker.close()
    subjects: dict[str, list[str]] = {}
    for message in transport.sent:
        subjects.setdefault(message.recipients[0].email, []).append(message.subject.split(":")[0])
    assert sorted(subjects.values()) == [["New", "Rescheduled"]] * 2
    assert {d.state for d in deliveries(db)} == {"sent"}
    assert sorted(a[1:] for a in attempts(db)) == [(1, "retry")] * 2 + [(1, "sent")] * 2 + [(2, "sent")] * 2
