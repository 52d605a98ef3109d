"""Driving a GCR through time: reminders, automatic start, late and superseded
reminders, and customers whose first eligible contact appears later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from changemgmt.delivery.transports import InMemoryTransport
from changemgmt.delivery.webhook import apply_sendgrid_events
from changemgmt.delivery.worker import Worker
from changemgmt.domain.status import Status
from changemgmt.jobs.tick import tick
from changemgmt.store import models
from changemgmt.store.db import transaction

UTC = UTC
START = datetime(2026, 12, 1, 7, tzinfo=UTC)
GCR = {
    "number": "GCR-7001",
    "title": "Fibre splice",
    "description": "Splicing fibre.",
    "windows": [{"start": START.isoformat(), "end": (START + timedelta(hours=4)).isoformat()}],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "OUTAGE"}],
}


@pytest.fixture
def outbox():
    return InMemoryTransport()


@pytest.fixture
def worker(engine, settings, clock, outbox):
    worker = Worker(engine, outbox, settings, clock)
    yield worker
    worker.close()


def run_at(moment, clock, db, settings, worker):
    """What the worker process does at `moment`: plan what fell due, then send it."""
    clock.now = moment
    tick(db, settings, moment)
    worker.drain()


def kinds(outbox) -> list[str]:
    return [m.subject.split(":")[0] for m in outbox.sent]


def test_reminders_go_out_at_each_offset_once(desk, worker, outbox, clock, db, settings):
    desk.publish(GCR)
    run_at(clock(), clock, db, settings, worker)
    for moment in (
        START - timedelta(hours=73),
        START - timedelta(hours=72),
        START - timedelta(hours=71),
        START - timedelta(hours=24),
        START - timedelta(hours=24),
    ):
        run_at(moment, clock, db, settings, worker)
    assert kinds(outbox) == ["New", "Reminder", "Reminder"]
    assert "72 h" in outbox.sent[1].subject and "24 h" in outbox.sent[2].subject


def test_a_confirmed_gcr_starts_by_itself_at_its_window(desk, worker, outbox, clock, db, settings):
    desk.publish(GCR)
    run_at(START, clock, db, settings, worker)
    assert kinds(outbox)[-1] == "Started"
    with db() as session:
        gcr = session.scalar(select(models.Gcr))
        assert gcr.status == Status.IN_PROGRESS.value
        assert gcr.revisions[-1].actor == "clock"


def test_a_tentative_gcr_is_flagged_not_started(desk, worker, outbox, clock, db, settings):
    desk.publish(GCR, Status.TENTATIVE)
    run_at(START, clock, db, settings, worker)
    run_at(START + timedelta(minutes=5), clock, db, settings, worker)
    with db() as session:
        assert session.scalar(select(models.Gcr.status)) == "tentative"
        flags = session.scalar(
            select(func.count()).select_from(models.AuditEntry).where(models.AuditEntry.action == "flag")
        )
    assert flags == 1


def test_a_reschedule_supersedes_reminders_whose_moment_has_passed(desk, worker, outbox, clock, db, settings):
    desk.publish(GCR)
    run_at(clock(), clock, db, settings, worker)
    later = START + timedelta(days=10)
    clock.now = START - timedelta(hours=30)  # the 72 h reminder went out; now move the work 10 days
    tick(db, settings, clock.now)
    worker.drain()
    desk.update(
        "GCR-7001",
        {"windows": [{"number": 1, "start": later.isoformat(), "end": (later + timedelta(hours=4)).isoformat()}]},
    )
    run_at(clock.now, clock, db, settings, worker)
    run_at(START - timedelta(hours=23), clock, db, settings, worker)  # the old 24 h moment: nothing
    run_at(later - timedelta(hours=50), clock, db, settings, worker)
    run_at(later - timedelta(hours=23), clock, db, settings, worker)
    assert kinds(outbox) == ["New", "Reminder", "Rescheduled", "Reminder", "Reminder"]


def test_a_move_into_the_reminder_period_sends_no_late_reminder(desk, worker, outbox, clock, db, settings):
    desk.publish(GCR)
    run_at(clock(), clock, db, settings, worker)
    clock.now = START - timedelta(days=6)
    soon = clock.now + timedelta(hours=48)
    desk.update(
        "GCR-7001",
        {"windows": [{"number": 1, "start": soon.isoformat(), "end": (soon + timedelta(hours=4)).isoformat()}]},
        override_reason="customer request",
    )
    run_at(clock.now, clock, db, settings, worker)
    run_at(soon - timedelta(hours=24), clock, db, settings, worker)
    assert kinds(outbox) == ["New", "Rescheduled", "Reminder"]


def test_a_reminder_missed_while_down_goes_out_late_only_before_its_window(desk, worker, outbox, clock, db, settings):
    desk.publish(GCR)
    run_at(clock(), clock, db, settings, worker)
    run_at(START - timedelta(hours=2), clock, db, settings, worker)  # down through both moments
    assert kinds(outbox) == ["New", "Reminder", "Reminder"]
    for late in outbox.sent[1:]:  # each says the time truly left, not its offset's 72 or 24 hours
        assert late.subject.endswith("(starts in 2 h)")
        assert "starts in 2 h and will affect" in late.text


def test_planning_twice_never_plans_twice(desk, clock, db, settings):
    desk.publish(GCR)
    moment = START - timedelta(hours=23)
    tick(db, settings, moment)
    tick(db, settings, moment)
    with db() as session:
        reminders = session.scalar(
            select(func.count()).select_from(models.Notice).where(models.Notice.kind == "reminder")
        )
    assert reminders == 2


def test_a_customer_without_recipients_gets_new_once_a_contact_appears(desk, worker, outbox, clock, db, settings):
    with transaction(db) as session:
        session.execute(models.Contact.__table__.delete().where(models.Contact.email == "ops@globex.example"))
    desk.publish(GCR)
    run_at(clock(), clock, db, settings, worker)
    assert outbox.sent == []
    with db() as session:
        assert session.scalar(select(models.Notice.state)) == "no_recipient"
    with transaction(db) as session:
        globex = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-2002"))
        session.add(models.Contact(customer=globex, email="new-noc@globex.example", name="Globex NOC"))
    run_at(clock.advance(days=1), clock, db, settings, worker)
    run_at(clock.advance(days=1), clock, db, settings, worker)
    assert kinds(outbox) == ["New"]
    assert [r.email for r in outbox.sent[0].recipients] == ["new-noc@globex.example"]


def test_a_hard_bounce_suppresses_the_contact(desk, worker, outbox, clock, db, settings):
    desk.publish(GCR)
    run_at(clock(), clock, db, settings, worker)
    with db() as session:
        recipient = session.scalar(select(models.Recipient))
    events = [
        {
            "event": "delivered",
            "email": "ops@globex.example",
            "sg_event_id": "e1",
            "delivery_id": str(recipient.delivery_id),
            "contact_id": str(recipient.contact_id),
        },
        {
            "event": "bounce",
            "type": "bounce",
            "email": "ops@globex.example",
            "sg_event_id": "e2",
            "delivery_id": str(recipient.delivery_id),
            "contact_id": str(recipient.contact_id),
        },
        {
            "event": "bounce",
            "type": "bounce",
            "email": "ops@globex.example",
            "sg_event_id": "e2",
            "delivery_id": str(recipient.delivery_id),
            "contact_id": str(recipient.contact_id),
        },
    ]
    with transaction(db) as session:
        counts = apply_sendgrid_events(session, events, clock())
    assert (counts["delivered"], counts["bounced"], counts["duplicate"]) == (1, 1, 1)
    with db() as session:
        assert session.scalar(select(models.Recipient.state)) == "bounced"
        assert (
            session.scalar(select(models.Contact.suppressed_at).where(models.Contact.email == "ops@globex.example"))
            is not None
        )
    desk.update("GCR-7001", {"description": "Splicing two fibres."})
    run_at(clock(), clock, db, settings, worker)
    assert kinds(outbox) == ["New"]  # the suppressed contact gets nothing more


def notices_of(db, account: str) -> list[tuple[str, str]]:
    """(kind, state) of every notice to the customer `account`, in order."""
    with db() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(models.Notice.kind, models.Notice.state)
                .join(models.Customer)
                .where(models.Customer.account == account)
                .order_by(models.Notice.id)
            )
        ]


def test_a_customer_added_to_a_routine_gcr_at_short_notice_gets_new(desk, worker, outbox, clock, db, settings):
    desk.publish(GCR)  # four weeks ahead: routine notice
    run_at(clock(), clock, db, settings, worker)
    clock.now = START - timedelta(days=4)
    desk.update("GCR-7001", {"impacts": GCR["impacts"] + [{"service": "ACME-ETH-1", "impact": "DEGRADED"}]})
    run_at(clock.now, clock, db, settings, worker)
    assert notices_of(db, "ACC-1001") == [("new", "sent")]
    assert kinds(outbox) == ["New", "New"]


def test_a_first_contact_appearing_at_short_notice_gets_new(desk, worker, outbox, clock, db, settings):
    with transaction(db) as session:
        session.execute(models.Contact.__table__.delete().where(models.Contact.email == "ops@globex.example"))
    desk.publish(GCR)
    run_at(clock(), clock, db, settings, worker)
    with transaction(db) as session:
        globex = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-2002"))
        session.add(models.Contact(customer=globex, email="new-noc@globex.example", name="Globex NOC"))
    run_at(START - timedelta(days=2), clock, db, settings, worker)
    assert kinds(outbox) == ["New"]


def test_publishing_at_short_notice_after_an_override_sends_emergency(desk, worker, outbox, clock, db, settings):
    clock.now = START - timedelta(days=2)
    desk.create(GCR)
    desk.status("GCR-7001", Status.CONFIRMED, override_reason="fibre cut risk")
    run_at(clock.now, clock, db, settings, worker)
    assert kinds(outbox) == ["EMERGENCY"]


def test_started_and_completed_reach_a_customer_whose_first_contact_came_after_the_start(
    desk, worker, outbox, clock, db, settings
):
    with transaction(db) as session:
        session.execute(models.Contact.__table__.delete().where(models.Contact.email == "ops@globex.example"))
    desk.publish(GCR)
    run_at(clock(), clock, db, settings, worker)
    run_at(START, clock, db, settings, worker)  # starts by itself, nobody to tell
    with transaction(db) as session:
        globex = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-2002"))
        session.add(models.Contact(customer=globex, email="new-noc@globex.example", name="Globex NOC"))
    run_at(START + timedelta(hours=1), clock, db, settings, worker)
    desk.status("GCR-7001", Status.COMPLETED)
    run_at(clock.now, clock, db, settings, worker)
    assert notices_of(db, "ACC-2002") == [("new", "no_recipient"), ("started", "no_recipient"), ("completed", "sent")]
    assert kinds(outbox) == ["Completed"]
    assert [r.email for r in outbox.sent[0].recipients] == ["new-noc@globex.example"]
