"""POST /webhooks/sendgrid over HTTP (a real uvicorn on loopback): SendGrid's signed
Event Webhook verified with the sendgrid package's helper and a test key pair; forged,
tampered, old and replayed requests refused; events applied in the order they happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from changemgmt.delivery.transports import InMemoryTransport
from changemgmt.delivery.worker import Worker
from changemgmt.store import models
from support.public import SIGNATURE, TIMESTAMP, SigningKey, body_of, client, public_server

GCR = {
    "number": "GCR-8101",
    "title": "Line card swap",
    "description": "Swapping a line card.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "OUTAGE"}, {"service": "ACME-ETH-1", "impact": "OUTAGE"}],
}


@pytest.fixture
def key():
    return SigningKey()


@pytest.fixture
def server(env, key, db, clock):
    with public_server({**env, "SENDGRID_WEBHOOK_PUBLIC_KEYS": key.public}, db, clock) as (url, _):
        with client(url) as http:
            yield http


@pytest.fixture
def sent(desk, engine, settings, clock, db):
    """The GCR published and sent: {address: (delivery id, contact id)} of every copy."""
    desk.publish(GCR)
    worker = Worker(engine, InMemoryTransport(), settings, clock)
    worker.drain()
    worker.close()
    with db() as session:
        rows = session.execute(
            select(models.Recipient.email, models.Recipient.delivery_id, models.Recipient.contact_id)
        )
        return {email: (delivery, contact) for email, delivery, contact in rows}


def event(sent, address: str, kind: str, at: int, event_id: str, **more) -> dict:
    delivery, contact = sent[address]
    return {
        "email": address,
        "event": kind,
        "timestamp": at,
        "sg_event_id": event_id,
        "sg_message_id": f"msg-{delivery}.{contact}",
        "delivery_id": str(delivery),
        "contact_id": str(contact),
        "notice_id": "1",
        **more,
    }


def post(http, key, clock, events, *, body: bytes | None = None, age: timedelta = timedelta(0), signer=None):
    data = body_of(events) if body is None else body
    headers = (signer or key).headers(data, int((clock() - age).timestamp()))
    return http.post("/webhooks/sendgrid", content=data, headers=headers)


def state(db, address: str) -> str:
    with db() as session:
        return session.scalar(select(models.Recipient.state).where(models.Recipient.email == address))


def stored_events(db) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(models.DeliveryEvent))


def suppressed(db) -> set[str]:
    with db() as session:
        return set(session.scalars(select(models.Contact.email).where(models.Contact.suppressed_at.is_not(None))))


def test_a_batch_signed_with_the_configured_key_is_applied(server, key, clock, sent, db):
    at = int(clock().timestamp())
    answer = post(
        server,
        key,
        clock,
        [
            event(sent, "ops@globex.example", "delivered", at, "e1"),
            event(sent, "noc@acme.example", "deferred", at, "e2", response="450 try later"),
            event(sent, "noc@acme.example", "open", at, "e3"),
        ],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"events": 3, "outcomes": {"delivered": 1, "deferred": 1, "recorded": 1}}
    assert (state(db, "ops@globex.example"), state(db, "noc@acme.example")) == ("delivered", "deferred")
    assert stored_events(db) == 3


def test_a_tampered_body_a_wrong_key_and_an_unsigned_request_are_refused(server, key, clock, sent, db):
    events = [event(sent, "ops@globex.example", "bounce", int(clock().timestamp()), "e1", type="bounce")]
    signed = key.headers(body_of(events), int(clock().timestamp()))
    tampered = body_of(events).replace(b"ops@globex.example", b"noc@acme.example")
    answers = {
        "tampered": server.post("/webhooks/sendgrid", content=tampered, headers=signed),
        "wrong key": post(server, key, clock, events, signer=SigningKey()),
        "unsigned": server.post("/webhooks/sendgrid", content=body_of(events)),
        "not base64": server.post("/webhooks/sendgrid", content=body_of(events), headers={**signed, SIGNATURE: "%%%"}),
        "bad timestamp": server.post(
            "/webhooks/sendgrid", content=body_of(events), headers={**signed, TIMESTAMP: "soon"}
        ),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {"tampered": 403, "wrong key": 403, "unsigned": 401, "not base64": 403, "bad timestamp": 403}
    assert answers["unsigned"].headers["content-type"] == "application/problem+json"
    assert answers["unsigned"].json()["field"] == SIGNATURE
    assert stored_events(db) == 0 and suppressed(db) == set() and state(db, "ops@globex.example") == "sent"


def test_an_old_timestamp_and_a_replay_are_refused(server, key, clock, sent, db):
    events = [event(sent, "ops@globex.example", "delivered", int(clock().timestamp()), "e1")]
    old = post(server, key, clock, events, age=timedelta(hours=1, seconds=5))
    assert old.status_code == 403 and old.json()["field"] == TIMESTAMP
    headers = key.headers(body_of(events), int(clock().timestamp()))
    first = server.post("/webhooks/sendgrid", content=body_of(events), headers=headers)
    again = server.post("/webhooks/sendgrid", content=body_of(events), headers=headers)
    assert (first.status_code, again.status_code) == (200, 409)
    assert stored_events(db) == 1


def test_an_unknown_delivery_does_not_fail_the_batch(server, key, clock, sent, db):
    at = int(clock().timestamp())
    forged = {**event(sent, "ops@globex.example", "bounce", at, "e1", type="bounce"), "delivery_id": "99999"}
    answer = post(server, key, clock, [forged, event(sent, "noc@acme.example", "delivered", at, "e2")])
    assert answer.status_code == 200
    assert answer.json()["outcomes"] == {"unknown": 1, "delivered": 1}
    assert state(db, "noc@acme.example") == "delivered" and suppressed(db) == set()
    assert stored_events(db) == 2  # stored once each, the unknown one tied to no delivery


def test_events_apply_in_the_order_they_happened(server, key, clock, sent, db):
    at = int(clock().timestamp())
    # One batch out of order, then a late `deferred` from before the delivery.
    batch = [
        event(sent, "ops@globex.example", "delivered", at + 20, "e2"),
        event(sent, "ops@globex.example", "deferred", at + 10, "e1"),
    ]
    assert post(server, key, clock, batch).json()["outcomes"] == {"deferred": 1, "delivered": 1}
    late = post(server, key, clock, [event(sent, "ops@globex.example", "deferred", at + 5, "e0")])
    assert late.json()["outcomes"] == {"stale": 1}
    assert state(db, "ops@globex.example") == "delivered"
    # A delay never replaces how a copy ended, even one stamped later; an async bounce does.
    later = post(server, key, clock, [event(sent, "ops@globex.example", "deferred", at + 30, "e3")])
    bounce = post(server, key, clock, [event(sent, "ops@globex.example", "bounce", at + 40, "e4", type="bounce")])
    assert (later.json()["outcomes"], bounce.json()["outcomes"]) == ({"stale": 1}, {"bounced": 1})
    assert state(db, "ops@globex.example") == "bounced"


def test_a_hard_bounce_suppresses_only_the_address_it_names_if_it_is_the_deliverys(server, key, clock, sent, db):
    at = int(clock().timestamp())
    # A bounce for Globex's delivery naming Acme's address: not that delivery's recipient.
    wrong = {**event(sent, "ops@globex.example", "bounce", at, "e1", type="bounce"), "email": "noc@acme.example"}
    blocked = event(sent, "ops@globex.example", "bounce", at, "e2", type="blocked")
    answer = post(server, key, clock, [wrong, blocked])
    assert answer.json()["outcomes"] == {"mismatched": 1, "deferred": 1}
    assert suppressed(db) == set()
    hard = post(server, key, clock, [event(sent, "ops@globex.example", "bounce", at + 1, "e3", type="bounce")])
    assert hard.json()["outcomes"] == {"bounced": 1}
    assert suppressed(db) == {"ops@globex.example"}


def test_the_body_size_is_capped_and_must_be_a_json_array(env, key, db, clock, sent):
    with public_server({**env, "SENDGRID_WEBHOOK_PUBLIC_KEYS": key.public}, db, clock, max_webhook_body=1000) as (
        url,
        _,
    ):
        with client(url) as http:
            big = post(http, key, clock, [], body=b"[" + b" " * 2000 + b"]")
            not_array = post(http, key, clock, [], body=b'{"event": "delivered"}')
            not_json = post(http, key, clock, [], body=b"[{")
    assert (big.status_code, not_array.status_code, not_json.status_code) == (413, 400, 400)
    assert stored_events(db) == 0


def test_without_a_configured_key_nothing_is_taken(env, key, db, clock, sent):
    with public_server(env, db, clock) as (url, _):
        with client(url) as http:
            answer = post(http, key, clock, [event(sent, "ops@globex.example", "delivered", 1, "e1")])
    assert answer.status_code == 503 and answer.json()["field"] == "SENDGRID_WEBHOOK_PUBLIC_KEYS"
    assert stored_events(db) == 0


def test_rotated_keys_are_both_accepted(env, key, db, clock, sent):
    new = SigningKey()
    with public_server({**env, "SENDGRID_WEBHOOK_PUBLIC_KEYS": f"{key.public},{new.public}"}, db, clock) as (url, _):
        with client(url) as http:
            at = int(clock().timestamp())
            first = post(http, key, clock, [event(sent, "ops@globex.example", "delivered", at, "e1")])
            second = post(http, new, clock, [event(sent, "noc@acme.example", "delivered", at, "e2")])
    assert (first.status_code, second.status_code) == (200, 200)
