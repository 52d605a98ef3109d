"""POST /api/v1/gcrs/{number}/deliveries/retry: a failed delivery goes out once more, as
with `changemgmt deliveries retry`, and the audit trail names the key that asked."""

from __future__ import annotations

import random

import pytest
from test_deliveries import OTHER, delivery_of, fail_first, sent_to

from changemgmt.delivery.transports import SendGridTransport
from changemgmt.delivery.worker import Worker
from changemgmt.store import models
from support.api import api_server
from support.sendgrid_server import FakeSendGrid


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def worker(engine, settings, clock, sendgrid):
    transport = SendGridTransport("SG.test-key", sendgrid.url, timeout=5, clock=lambda: clock().timestamp())
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1), concurrency=1)
    yield worker
    worker.close()


@pytest.fixture
def api(db, engine, settings, clock):
    with api_server(db, engine, settings, clock) as world:
        yield world


def test_a_failed_delivery_retried_over_the_api_goes_out_once_more(api, desk, worker, sendgrid, db):
    failed = fail_first(desk, worker, sendgrid)
    worker.drain()
    address = sendgrid.requests[0].body["personalizations"][0]["to"][0]["email"]
    assert sent_to(sendgrid, address) == 1  # the refused request
    with api.client("change_manager") as client:
        answer = client.post("/api/v1/gcrs/GCR-6301/deliveries/retry", json={"ids": [failed.id]})
        assert answer.status_code == 200, answer.text
        (retried,) = answer.json()["retried"]
        assert (retried["id"], retried["gcr"], retried["recipients"]) == (failed.id, "GCR-6301", 1)
        assert client.post("/api/v1/gcrs/GCR-6301/deliveries/retry").json() == {"retried": []}  # none failed now
        audit = client.get("/api/v1/gcrs/GCR-6301/audit").json()
    worker.drain()
    assert sent_to(sendgrid, address) == 2
    assert delivery_of(db, retried["account"]).state == "sent"
    assert any(entry["actor"] == "change_manager" for entry in audit["items"])


def test_a_retry_names_what_is_wrong_and_changes_nothing(api, desk, worker, sendgrid, db):
    failed = fail_first(desk, worker, sendgrid)
    other = fail_first(desk, worker, sendgrid, "GCR-6302", OTHER)
    with api.client("change_manager") as client:
        wrong_gcr = client.post("/api/v1/gcrs/GCR-6301/deliveries/retry", json={"ids": [failed.id, other.id]})
        assert wrong_gcr.status_code == 422
        assert wrong_gcr.json()["errors"] == [{"field": "ids", "message": f"not deliveries of GCR-6301: {other.id}"}]
        not_ids = client.post("/api/v1/gcrs/GCR-6301/deliveries/retry", json={"ids": ["one", True]})
        assert not_ids.status_code == 422 and not_ids.json()["errors"][0]["field"] == "ids"
        stray = client.post("/api/v1/gcrs/GCR-6301/deliveries/retry", json={"all": True})
        assert stray.status_code == 422 and stray.json()["errors"][0]["field"] == "all"
        unknown = client.post("/api/v1/gcrs/GCR-6301/deliveries/retry", json={"ids": [999999]})
        assert unknown.status_code == 404
        assert client.post("/api/v1/gcrs/GCR-0000/deliveries/retry").status_code == 404
    with db() as session:
        states = [session.get(models.Delivery, d.id).state for d in (failed, other)]
    assert states == ["failed", "failed"]  # nothing was retried
