"""Delivery through faults, with the real worker, the real SendGrid client and a loopback
SendGrid that records every personalization it takes and injects faults, time injected:
an outage is waited out (the breaker pauses and probes) and fails nothing; one bad
recipient, or one notice that cannot be composed, fails alone; a send whose answer never
came is recorded as unknown; a delivery is given up on only when its time budget is spent."""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from changemgmt.delivery.transports import InMemoryTransport, SendError, SendGridTransport, SmtpTransport
from changemgmt.delivery.worker import Worker
from changemgmt.store import models
from changemgmt.store.db import transaction
from support.sendgrid_server import FakeSendGrid
from support.smtp_server import SmtpServer

GCR = {
    "number": "GCR-7000",
    "title": "Fibre splice",
    "description": "Splicing fibre.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}],
}


def gcr(n: int) -> dict:
    day = 1 + n % 28
    window = {"start": f"2026-12-{day:02d}T07:00Z", "end": f"2026-12-{day:02d}T11:00Z"}
    return {**GCR, "number": f"GCR-{7000 + n}", "windows": [window]}


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


def sendgrid_worker(engine, settings, clock, fake, **options) -> Worker:
    transport = SendGridTransport("SG.test-key", fake.url, timeout=5, clock=lambda: clock().timestamp())
    return Worker(engine, transport, settings, clock, rng=random.Random(1), **options)


def rows(db, model) -> list:
    with db() as session:
        return session.scalars(select(model).order_by(model.id)).all()


def taken(fake) -> Counter:
    """How many times the provider took each (delivery, contact)."""
    return Counter((p["custom_args"]["delivery_id"], p["custom_args"]["contact_id"]) for p in fake.accepted)


def test_a_two_minute_outage_with_429s_and_500s_around_it_fails_nothing_and_uses_attempts_only_for_real_tries(
    desk, engine, settings, clock, db, sendgrid
):
    for n in range(10):
        desk.publish(gcr(n))
    worker = sendgrid_worker(engine, settings, clock, sendgrid, batch_size=4, concurrency=2)
    start = clock()
    sendgrid.answer_next(500, times=2, body={"errors": [{"message": "internal"}]})
    sendgrid.rate_limit_next(reset_at=int(start.timestamp()) + 30)
    worker.drain()
    sendgrid.go_down()
    down = True
    for _ in range(400):
        if down and clock() - start >= timedelta(minutes=2, seconds=30):
            sendgrid.come_up()
            down = False
            sendgrid.answer_next(500, body={"errors": [{"message": "internal"}]})
            sendgrid.rate_limit_next(reset_at=int(clock().timestamp()) + 20)
        worker.drain()
        if not down and {d.state for d in rows(db, models.Delivery)} == {"sent"}:
            break
        clock.advance(seconds=5)
    worker.close()

    deliveries = rows(db, models.Delivery)
    assert len(deliveries) == 20 and {d.state for d in deliveries} == {"sent"}
    assert set(taken(sendgrid).values()) == {1} and len(taken(sendgrid)) == 30  # every contact once
    attempts = rows(db, models.DeliveryAttempt)
    # Every attempt is a real try: a request the provider answered, or a connection refused.
    answered = Counter(r.status for r in sendgrid.requests)
    assert Counter(a.outcome for a in attempts) == {"sent": 20, "retry": len(attempts) - 20}
    assert sum(1 for a in attempts if a.outcome == "sent") == answered[202]
    assert sum(1 for a in attempts if a.error and a.error.startswith("500")) == answered[500] == 3
    assert sum(1 for a in attempts if a.error and a.error.startswith("429")) == answered[429] == 2
    refused = [a for a in attempts if a.error and "unreachable" in a.error]
    assert len(attempts) == answered.total() + len(refused)
    assert 1 <= len(refused) <= worker.breaker.trips  # one probe per pause, not a try per delivery
    assert len(refused) < 10, (len(refused), worker.breaker.trips, answered)
    per_delivery = Counter(a.delivery_id for a in attempts)
    assert {d.id: d.attempts for d in deliveries} == {d.id: per_delivery[d.id] for d in deliveries}


def test_while_sending_is_paused_nothing_is_claimed_and_no_attempt_is_used(desk, engine, settings, clock, db, sendgrid):
    desk.publish(GCR)
    worker = sendgrid_worker(engine, settings, clock, sendgrid, batch_size=1, concurrency=1)
    sendgrid.rate_limit_next(reset_at=int(clock().timestamp()) + 60)
    assert worker.drain() == 2  # the first met the 429; the second, claimed ahead, was held back untried
    waiting = rows(db, models.Delivery)
    assert [(d.state, d.attempts) for d in waiting] == [("pending", 1), ("pending", 0)]
    assert [a.outcome for a in rows(db, models.DeliveryAttempt)] == ["retry"]
    assert all(d.next_attempt_at == clock() + timedelta(seconds=60) for d in waiting)
    clock.advance(seconds=30)
    assert worker.drain() == 0 and len(sendgrid.requests) == 1
    clock.advance(seconds=30)
    assert worker.drain() == 2
    worker.close()
    assert [(d.state, d.attempts) for d in rows(db, models.Delivery)] == [("sent", 2), ("sent", 1)]


@pytest.fixture(params=["sendgrid", "smtp"])
def provider(request, sendgrid):
    """A transport whose provider refuses bounce@globex.example, and the addresses it took."""
    if request.param == "sendgrid":
        sendgrid.refuse_address("bounce@globex.example")
        yield "sendgrid", None, lambda: [p["to"][0]["email"] for p in sendgrid.accepted]
    else:
        with SmtpServer() as server:
            server.refuse_recipients("550 5.1.1 No such user", only="bounce@globex.example")
            yield "smtp", server, lambda: [m.rcpt_tos[0] for m in server.messages]


def test_a_malformed_address_and_a_refused_recipient_fail_alone_and_everything_else_goes_once(
    desk, engine, settings, clock, db, sendgrid, provider, caplog
):
    kind, smtp, inbox = provider
    with transaction(db) as session:
        session.execute(
            update(models.Contact).where(models.Contact.email == "noc@acme.example").values(email="josé@acme.example")
        )
        globex = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-2002"))
        session.add(models.Contact(customer_id=globex.id, email="bounce@globex.example", name="Globex Bounce"))
    desk.publish(gcr(1))
    desk.publish(gcr(2))
    if kind == "sendgrid":
        worker = sendgrid_worker(engine, settings, clock, sendgrid)
    else:
        worker = Worker(engine, SmtpTransport(smtp.host, smtp.port, timeout=5), settings, clock, rng=random.Random(1))
    with caplog.at_level(logging.ERROR, logger="changemgmt.delivery.outcomes"):
        worker.drain()
    worker.close()

    assert sorted(inbox()) == sorted(["it@acme-holdings.example", "ops@globex.example"] * 2)
    assert {d.state for d in rows(db, models.Delivery)} == {"sent"}
    assert {n.state for n in rows(db, models.Notice)} == {"sent"}
    recipients = {(r.delivery_id, r.email): r for r in rows(db, models.Recipient)}
    for (_, email), recipient in recipients.items():
        if email in ("josé@acme.example", "bounce@globex.example"):
            assert recipient.state == "failed"
        else:
            assert (recipient.state, recipient.error) == ("sent", None)
    reasons = {r.email: r.error for r in recipients.values() if r.state == "failed"}
    assert "not an ASCII email address" in reasons["josé@acme.example"]
    assert "refused bounce@globex.example" in reasons["bounce@globex.example"]
    lines = [r for r in caplog.records if getattr(r, "event", None) == "recipient_refused"]
    assert len(lines) == 4 and {r.gcr for r in lines} == {"GCR-7001", "GCR-7002"}


def test_a_notice_that_cannot_be_composed_fails_alone_for_good(desk, engine, settings, clock, db, caplog):
    desk.publish(gcr(1))
    desk.publish(gcr(2))
    with transaction(db) as session:
        broken = session.scalar(select(models.Gcr.id).where(models.Gcr.number == "GCR-7001"))
        session.execute(update(models.Revision).where(models.Revision.gcr_id == broken).values(state={}))
    transport = InMemoryTransport()
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1))
    worker.drain()
    worker.close()
    assert len(transport.sent) == 2 and all("GCR-7002" in m.subject for m in transport.sent)
    with db() as session:
        notices = session.execute(select(models.Notice.gcr_id, models.Notice.state, models.Notice.skip_reason)).all()
    assert {(state, gcr_id == broken) for gcr_id, state, _ in notices} == {("failed", True), ("sent", False)}
    assert all(reason.startswith("composing failed") for gcr_id, _, reason in notices if gcr_id == broken)


def test_a_send_whose_answer_never_came_is_recorded_as_unknown_and_tried_again_after_a_while(
    desk, engine, settings, clock, db, sendgrid
):
    desk.publish({**GCR, "impacts": [{"service": "GLBX-WAVE-1"}]})
    worker = sendgrid_worker(engine, settings, clock, sendgrid)
    sendgrid.hang_up_next()
    worker.drain()
    (delivery,) = rows(db, models.Delivery)
    assert delivery.state == "pending" and delivery.next_attempt_at >= clock() + timedelta(minutes=2)
    assert [a.outcome for a in rows(db, models.DeliveryAttempt)] == ["unknown"]
    clock.advance(minutes=2)
    worker.drain()
    worker.close()
    assert [a.outcome for a in rows(db, models.DeliveryAttempt)] == ["unknown", "sent"]
    assert list(taken(sendgrid).values()) == [2]  # the one duplicate a send in flight may cost


def test_a_delivery_fails_for_good_only_when_its_time_budget_has_run_out(desk, engine, settings, clock, db):
    settings = replace(settings, give_up_after=timedelta(hours=6))
    transport = InMemoryTransport()
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1))
    desk.publish({**GCR, "impacts": [{"service": "GLBX-WAVE-1"}]})
    first = clock()
    while rows(db, models.Delivery)[0].state != "failed":
        transport.fail_next(SendError("503: busy", permanent=False, outage=False))
        assert worker.drain() == 1
        clock.advance(hours=2)
    worker.close()
    attempts = rows(db, models.DeliveryAttempt)
    assert [a.outcome for a in attempts] == ["retry", "retry", "retry", "failed"]
    assert attempts[-1].started_at - first == timedelta(hours=6)
