"""Operators see and act on deliveries: `changemgmt deliveries list|retry` and the notices
in `gcr show`, against the worker sending to a loopback SendGrid."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from changemgmt.delivery.operations import retry_deliveries
from changemgmt.delivery.transports import InMemoryTransport, SendError, SendGridTransport
from changemgmt.delivery.worker import Worker
from changemgmt.store import models
from changemgmt.store.db import transaction
from support.sendgrid_server import FakeSendGrid

GCR = {
    "number": "GCR-6301",
    "title": "Fibre splice",
    "description": "Splicing fibre.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}],
}
OTHER = {**GCR, "number": "GCR-6302", "impacts": [{"service": "GLBX-WAVE-1"}]}
REFUSED = {"errors": [{"message": "The from address does not match a verified Sender Identity", "field": "from"}]}


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def worker(engine, settings, clock, sendgrid):
    transport = SendGridTransport("SG.test-key", sendgrid.url, timeout=5, clock=lambda: clock().timestamp())
    # one send at a time: the first request, refused below, is the first delivery's
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1), concurrency=1)
    yield worker
    worker.close()


def rows(db, model, *where):
    with db() as session:
        return session.scalars(select(model).where(*where).order_by(model.id)).all()


def delivery_of(db, account: str, number: str = "GCR-6301") -> models.Delivery:
    with db() as session:
        return session.scalars(
            select(models.Delivery)
            .join(models.Notice, models.Notice.id == models.Delivery.notice_id)
            .join(models.Customer, models.Customer.id == models.Notice.customer_id)
            .join(models.Gcr, models.Gcr.id == models.Notice.gcr_id)
            .where(models.Customer.account == account, models.Gcr.number == number)
        ).one()


def sent_to(sendgrid, address: str, status_accepted: bool = True) -> int:
    """How many requests carried a personalization to `address`."""
    return sum(1 for r in sendgrid.requests for p in r.body["personalizations"] if p["to"][0]["email"] == address)


def fail_first(desk, worker, sendgrid, number: str = "GCR-6301", document=GCR) -> models.Delivery:
    """Publishes the GCR; SendGrid refuses the first request (a permanent 400): that delivery fails."""
    desk.publish(document)
    sendgrid.answer_next(400, body=REFUSED)
    worker.run_once()
    with desk.db() as session:
        (failed,) = session.scalars(
            select(models.Delivery)
            .join(models.Notice, models.Notice.id == models.Delivery.notice_id)
            .join(models.Gcr, models.Gcr.id == models.Notice.gcr_id)
            .where(models.Gcr.number == number, models.Delivery.state == "failed")
        ).all()
    return failed


def account_of(db, delivery: models.Delivery) -> str:
    with db() as session:
        return session.scalar(
            select(models.Customer.account)
            .join(models.Notice, models.Notice.customer_id == models.Customer.id)
            .where(models.Notice.id == delivery.notice_id)
        )


@pytest.fixture
def failed(desk, worker, sendgrid):
    return fail_first(desk, worker, sendgrid)


def test_deliveries_retry_of_a_failed_delivery_sends_it_once_more_and_gcr_show_shows_it(
    desk, worker, sendgrid, failed, run, db
):
    shown = run("gcr", "show", "GCR-6301")
    account = account_of(db, failed)
    assert "notices (2):\n  new: failed 1, sent 1\n" in shown
    assert "failed deliveries (1; `changemgmt deliveries retry ID` sends one again):\n" in shown
    assert f"\n  {failed.id}: new to {account}, 1 attempts: 400: " in shown
    assert "does not match a verified Sender Identity" in shown
    document = json.loads(run("gcr", "show", "GCR-6301", "--json"))
    assert document["notices"] == {"new": {"failed": 1, "sent": 1}}
    assert [(d["id"], d["state"], d["account"]) for d in document["failed_deliveries"]] == [
        (failed.id, "failed", account)
    ]
    requests_before = len(sendgrid.requests)

    said = run("deliveries", "retry", str(failed.id))
    assert f"delivery {failed.id}: GCR-6301 new to {account}, due again for" in said
    assert worker.drain() == 1
    assert worker.drain() == 0
    assert len(sendgrid.requests) == requests_before + 1  # once more, and only that one
    assert sendgrid.requests[-1].body["personalizations"][0]["custom_args"]["delivery_id"] == str(failed.id)
    assert sendgrid.problems == []

    retried = delivery_of(db, account)
    assert (retried.state, retried.attempts, retried.retried_at is not None) == ("sent", 2, True)
    assert [
        (a.number, a.outcome) for a in rows(db, models.DeliveryAttempt, models.DeliveryAttempt.delivery_id == failed.id)
    ] == [
        (1, "failed"),
        (2, "sent"),
    ]
    assert {r.state for r in rows(db, models.Recipient, models.Recipient.delivery_id == failed.id)} == {"sent"}
    document = json.loads(run("gcr", "show", "GCR-6301", "--json"))
    assert document["notices"] == {"new": {"sent": 2}} and document["failed_deliveries"] == []
    retry_entry = document["audit"][-1]
    assert (retry_entry["actor"], retry_entry["action"], retry_entry["details"]["deliveries"]) == (
        "carol",
        "retry deliveries",
        [failed.id],
    )
    assert f"carol: retry deliveries (delivery {failed.id} (new to {account}))" in run("gcr", "show", "GCR-6301")


def test_deliveries_list_shows_state_attempts_and_the_reason_filtered_by_gcr_customer_and_state(
    desk, worker, sendgrid, failed, run, db
):
    desk.publish(OTHER)  # Globex again, not sent yet
    table = run("deliveries", "list").splitlines()
    assert table[0].split() == [
        "ID",
        "GCR",
        "ACCOUNT",
        "KIND",
        "STATE",
        "ATTEMPTS",
        "TO",
        "WHEN",
        "(UTC)",
        "LAST",
        "ERROR",
    ]
    assert len(table) == 4
    failed_line = next(line for line in table if line.startswith(f"{failed.id} "))
    assert "failed" in failed_line and "400: " in failed_line and "Sender Identity" in failed_line

    def ids(*args) -> list[int]:
        return [d["id"] for d in json.loads(run("deliveries", "list", "--json", *args))]

    every = ids()
    assert len(every) == 3 and every == sorted(every)
    assert ids("--state", "failed") == [failed.id]
    assert ids("--state", "failed", "--state", "pending") == [failed.id, delivery_of(db, "ACC-2002", "GCR-6302").id]
    assert ids("--gcr", "GCR-6302") == [delivery_of(db, "ACC-2002", "GCR-6302").id]
    assert ids("--customer", "ACC-1001") == [delivery_of(db, "ACC-1001").id]
    assert ids("--customer", "ENT-100") == [delivery_of(db, "ACC-1001").id]  # an enterprise: its accounts' too
    assert ids("--customer", "ACC-3003") == []
    assert run("deliveries", "list", "--customer", "ACC-3003") == "no deliveries match\n"
    assert ids("--limit", "1") == every[:1]
    listed = json.loads(run("deliveries", "list", "--json", "--state", "failed"))[0]
    assert listed["attempts"] == 1 and listed["recipients"] >= 1 and listed["kind"] == "new"
    assert listed["last_error"].startswith("400: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--gcr", "GCR-404"), "no GCR GCR-404"),
        (("--customer", "ACC-404"), "no customer with account ACC-404"),
        (("--state", "lost"), "Invalid value for '--state'"),
    ],
)
def test_deliveries_list_names_an_unknown_gcr_account_or_state_on_one_line(desk, run, args, message):
    said = run("deliveries", "list", *args, expect=2 if args[0] == "--state" else 1)
    assert message in said and "Traceback" not in said
    if args[0] != "--state":
        assert said.strip().count("\n") == 0


def test_deliveries_retry_gcr_failed_retries_every_failed_delivery_of_that_gcr_only(
    desk, worker, sendgrid, failed, run, db
):
    other = fail_first(desk, worker, sendgrid, "GCR-6302", OTHER)
    said = run("deliveries", "retry", "--gcr", "GCR-6301", "--failed")
    assert said.endswith("1 delivery(ies) retried\n")
    assert rows(db, models.Delivery, models.Delivery.id == other.id)[0].state == "failed"
    assert {d.id for d in rows(db, models.Delivery, models.Delivery.state == "pending")} == {failed.id}
    assert run("deliveries", "retry", "--gcr", "GCR-6301", "--failed") == "GCR-6301: no failed deliveries to retry\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "deliveries: give the ids of the deliveries to retry, or a GCR with --failed"),
        (("--gcr", "GCR-6301"), "failed: only failed deliveries can be retried: give --failed with --gcr"),
        (("--gcr", "GCR-404", "--failed"), "no GCR GCR-404"),
        (("999999",), "no delivery 999999"),
        (("SENT", "FAILED"), "delivery SENT: it is sent: only a failed delivery can be retried"),
        (("FAILED", "--gcr", "GCR-6301", "--failed"), "give delivery ids, or a GCR with --failed, not both"),
    ],
)
def test_deliveries_retry_refuses_on_one_line_and_changes_nothing(
    desk, worker, sendgrid, failed, run, db, args, message
):
    sent = next(d for d in rows(db, models.Delivery) if d.state == "sent")
    named = {"SENT": str(sent.id), "FAILED": str(failed.id)}
    args = tuple(named.get(a, a) for a in args)
    before = [(d.id, d.state, d.next_attempt_at) for d in rows(db, models.Delivery)]
    said = run("deliveries", "retry", *args, expect=1)
    assert message.replace("SENT", str(sent.id)) in said
    assert said.strip().count("\n") == 0 and "Traceback" not in said
    assert [(d.id, d.state, d.next_attempt_at) for d in rows(db, models.Delivery)] == before
    assert {n.state for n in rows(db, models.Notice)} == {"sent", "failed"}


def test_a_retry_sends_only_to_the_recipients_that_had_not_received_it(desk, engine, settings, clock, db):
    desk.publish({**GCR, "impacts": [{"service": "ACME-ETH-1"}]})  # Acme: its NOC and the enterprise's IT
    transport = InMemoryTransport()
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1))
    try:
        (recipients,) = {
            d.id: rows(db, models.Recipient, models.Recipient.delivery_id == d.id) for d in rows(db, models.Delivery)
        }.values()
        first, second = recipients
        transport.fail_next(SendError("554 refused", permanent=True, sent_contact_ids=(first.contact_id,)))
        assert worker.drain() == 1
        (delivery,) = rows(db, models.Delivery)
        assert delivery.state == "failed"
        assert {r.contact_id: r.state for r in rows(db, models.Recipient)} == {
            first.contact_id: "sent",
            second.contact_id: "failed",
        }

        with transaction(db) as session:
            (retried,) = retry_deliveries(session, [delivery.id], now=clock(), actor="ops")
        assert (retried.id, retried.recipients) == (delivery.id, 1)
        (notice,) = rows(db, models.Notice)
        assert (notice.state, notice.settled_at, notice.skip_reason) == ("pending", None, None)
        assert worker.drain() == 1
        assert [r.contact_id for m in transport.sent for r in m.recipients] == [second.contact_id]
        assert {r.state for r in rows(db, models.Recipient)} == {"sent"}
        assert rows(db, models.Notice)[0].state == "sent"
    finally:
        worker.close()


def test_a_retried_delivery_gets_its_whole_retry_budget_again(desk, engine, settings, clock, db):
    settings = replace(settings, give_up_after=timedelta(hours=6))
    desk.publish({**GCR, "impacts": [{"service": "GLBX-WAVE-1"}]})
    transport = InMemoryTransport()
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1))
    try:
        for _ in range(4):  # tries at 0, 2, 4 and 6 hours: the budget is spent
            transport.fail_next(SendError("500: internal", permanent=False, status=500))
            worker.drain()
            clock.advance(hours=2)
        (delivery,) = rows(db, models.Delivery)
        assert (delivery.state, delivery.attempts) == ("failed", 4)

        with transaction(db) as session:
            retry_deliveries(session, [delivery.id], now=clock())
        transport.fail_next(SendError("500: internal", permanent=False, status=500))
        worker.drain()
        (delivery,) = rows(db, models.Delivery)
        assert (delivery.state, delivery.attempts, delivery.attempts_before_retry) == (
            "pending",
            5,
            4,
        )  # retried later, not failed for good: its budget runs from this try
        clock.advance(hours=2)
        assert worker.drain() == 1
        assert rows(db, models.Delivery)[0].state == "sent"
        numbers = [a.number for a in rows(db, models.DeliveryAttempt)]
        assert numbers == list(range(1, 7))  # attempt numbers go on
    finally:
        worker.close()


def test_a_failed_delivery_whose_notice_was_settled_since_is_not_retried(desk, worker, sendgrid, failed, db, clock):
    with transaction(db) as session:
        session.execute(
            models.Notice.__table__.update().where(models.Notice.id == failed.notice_id).values(state="skipped")
        )
    with transaction(db) as session, pytest.raises(Exception, match=f"delivery {failed.id}: its notice .* is skipped"):
        retry_deliveries(session, [failed.id], now=clock())
    assert rows(db, models.Delivery, models.Delivery.id == failed.id)[0].state == "failed"
