"""Planning a GCR a chunk of customers at a time must not change who gets what: a
contact's filters are judged against what it had heard before this change, wherever the
chunk boundaries fall (SPEC §3.1 Preferences)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from changemgmt.delivery.transports import InMemoryTransport
from changemgmt.delivery.worker import Worker
from changemgmt.domain.status import Status
from changemgmt.jobs.tick import tick
from changemgmt.planning import outbox
from changemgmt.store import models
from changemgmt.store.db import transaction

GCR = {
    "number": "GCR-7001",
    "title": "Fibre works, Dallas",
    "description": "Re-splicing the Dallas ring.",
    "windows": [{"start": "2027-03-20T06:00Z", "end": "2027-03-20T10:00Z"}],
    "impacts": [{"service": "ACME-ETH-1", "impact": "OUTAGE"}, {"service": "ACME2-ETH-1", "impact": "DEGRADED"}],
}


def _second_child_and_a_choosy_parent(db) -> None:
    """A second account under the enterprise; the enterprise's contact wants outages only."""
    with transaction(db) as session:
        enterprise = session.scalar(select(models.Customer).where(models.Customer.account == "ENT-100"))
        child = models.Customer(account="ACC-1002", name="Acme Freight", time_zone="America/Chicago", parent=enterprise)
        session.add_all(
            [
                child,
                models.Service(service_id="ACME2-ETH-1", customer=child, product="Ethernet 1G", bandwidth="1G"),
                models.Contact(customer=child, email="noc@acme-freight.example", name="Freight NOC"),
            ]
        )
        for contact in enterprise.contacts:
            contact.min_impact = "OUTAGE"


def _recipients_by_account(db) -> dict[str, set[str]]:
    with db() as session:
        rows = session.execute(
            select(models.Customer.account, models.Recipient.email)
            .join(models.Notice, models.Notice.customer_id == models.Customer.id)
            .join(models.Recipient, models.Recipient.notice_id == models.Notice.id)
        )
        found: dict[str, set[str]] = {}
        for account, address in rows:
            found.setdefault(account, set()).add(address)
        return found


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_who_hears_of_a_gcr_does_not_depend_on_the_chunk_size(desk, db, monkeypatch, chunk):
    monkeypatch.setattr(outbox, "CHUNK", chunk)
    _second_child_and_a_choosy_parent(db)
    desk.publish(GCR)
    assert _recipients_by_account(db) == {
        # The parent's contact wants outages: it gets Acme's, not Acme Freight's degraded
        # service, though Acme's notice, planned in this same change, reached it first.
        "ACC-1001": {"noc@acme.example", "it@acme-holdings.example"},
        "ACC-1002": {"noc@acme-freight.example"},
    }


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_a_notice_skipped_by_the_change_counts_as_unheard_in_every_chunk(
    desk, db, engine, settings, clock, monkeypatch, chunk
):
    monkeypatch.setattr(outbox, "CHUNK", chunk)
    _second_child_and_a_choosy_parent(db)
    degraded_only = {**GCR, "impacts": [{"service": "ACME-ETH-1", "impact": "DEGRADED"}]}
    desk.publish(degraded_only)
    worker = Worker(engine, InMemoryTransport(), settings, clock)
    assert worker.drain() == 1  # Acme's `new`, to Acme's NOC only: the parent wants outages
    desk.update(GCR["number"], {"impacts": degraded_only["impacts"] + [{"service": "ACME2-ETH-1", "impact": "OUTAGE"}]})
    # Acme Freight's `new` would reach the parent too, but the GCR is cancelled before it goes.
    desk.status(GCR["number"], Status.CANCELLED)
    with db() as session:
        rows = session.execute(
            select(models.Customer.account, models.Notice.kind, models.Notice.state, models.Recipient.email)
            .join(models.Notice, models.Notice.customer_id == models.Customer.id)
            .outerjoin(models.Recipient, models.Recipient.notice_id == models.Notice.id)
        ).all()
    assert sorted(rows) == [
        ("ACC-1001", "cancelled", "pending", "noc@acme.example"),
        ("ACC-1001", "new", "sent", "noc@acme.example"),
        ("ACC-1002", "new", "skipped", "it@acme-holdings.example"),
        ("ACC-1002", "new", "skipped", "noc@acme-freight.example"),
    ]


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_reminders_reach_the_same_contacts_whatever_the_chunk_size(desk, db, settings, clock, monkeypatch, chunk):
    monkeypatch.setattr(outbox, "CHUNK", chunk)
    _second_child_and_a_choosy_parent(db)
    with transaction(db) as session:
        for contact in session.scalar(select(models.Customer).where(models.Customer.account == "ENT-100")).contacts:
            contact.notice_kinds = ["reminder"]  # the parent wants reminders of outages, nothing else
    desk.publish(GCR)
    before = _recipients_by_account(db)
    tick(db, settings, datetime(2027, 3, 17, 6, tzinfo=UTC))  # 72 h before the window
    with db() as session:
        rows = session.execute(
            select(models.Customer.account, models.Recipient.email)
            .join(models.Notice, models.Notice.customer_id == models.Customer.id)
            .join(models.Recipient, models.Recipient.notice_id == models.Notice.id)
            .where(models.Notice.kind == "reminder")
        ).all()
    assert before == {"ACC-1001": {"noc@acme.example"}, "ACC-1002": {"noc@acme-freight.example"}}
    # Acme's outage reminder is the parent's first notice of the GCR; Acme Freight's degraded
    # service stays below its filter, wherever the chunk boundary falls between them.
    assert sorted(rows) == [
        ("ACC-1001", "it@acme-holdings.example"),
        ("ACC-1001", "noc@acme.example"),
        ("ACC-1002", "noc@acme-freight.example"),
    ]
