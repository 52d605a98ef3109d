"""The links every email carries, followed over HTTP (a real uvicorn on loopback) as their
readers follow them: a mailbox provider's one-click unsubscribe (RFC 8058) with the URL
taken from a real sent email's header, a link scanner's GET, a person on the preferences
page. Each is checked by what the next notice does."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from sqlalchemy import select

from changemgmt.delivery.transports import FileTransport
from changemgmt.delivery.worker import Worker
from changemgmt.signing import unsubscribe_token
from changemgmt.store import models
from support.public import client, public_server

GCR = {
    "number": "GCR-8201",
    "title": "Line card swap",
    "description": "Swapping a line card.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "DEGRADED"}, {"service": "ACME-ETH-1", "impact": "OUTAGE"}],
}


@pytest.fixture
def served(env, db, clock):
    with public_server(env, db, clock) as (url, settings):
        with client(url) as http:
            yield http, settings


@pytest.fixture
def send(engine, served, clock):
    """Sends what is due, as the worker does with the file transport; returns the new
    emails, parsed, by recipient address."""
    settings = served[1]
    seen: set[str] = set()

    def step() -> dict[str, email.message.EmailMessage]:
        worker = Worker(engine, FileTransport(settings.outbox_dir), settings, clock)
        worker.drain()
        worker.close()
        new = {}
        for path in sorted(settings.outbox_dir.glob("*.eml")):
            if path.name not in seen:
                seen.add(path.name)
                message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
                new[message["To"].addresses[0].addr_spec] = message
        return new

    return step


def one_click_uri(message) -> str:
    """The https URI of List-Unsubscribe, as a mailbox provider picks it (RFC 8058 §3.1)."""
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (uri,) = [u for u in re.findall(r"<([^>]+)>", message["List-Unsubscribe"]) if not u.startswith("mailto:")]
    return uri


def contact(db, address: str) -> models.Contact:
    with db() as session:
        return session.scalar(select(models.Contact).where(models.Contact.email == address))


def test_one_click_unsubscribe_as_a_mailbox_provider_performs_it(desk, served, send, db):
    http, _ = served
    desk.publish(GCR)
    first = send()
    assert set(first) == {"noc@acme.example", "it@acme-holdings.example", "ops@globex.example"}
    uri = one_click_uri(first["noc@acme.example"])
    # The provider POSTs the List-Unsubscribe-Post value as a form: no cookie, no auth.
    answer = http.post(
        uri,
        content=first["noc@acme.example"]["List-Unsubscribe-Post"].encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert "You are unsubscribed" in answer.text
    assert contact(db, "noc@acme.example").unsubscribed_at is not None
    assert http.post(uri, content=b"List-Unsubscribe=One-Click").status_code == 400  # not a form: refused
    desk.update("GCR-8201", {"description": "Swapping two line cards."})
    assert set(send()) == {"it@acme-holdings.example", "ops@globex.example"}  # the next notice skips it
    with db() as session:
        audit = session.scalar(select(models.AuditEntry).where(models.AuditEntry.action == "unsubscribe"))
    assert audit.entity_key == "ACC-1001:noc@acme.example" and audit.details == {"via": "one-click"}


def test_a_multipart_one_click_post_also_unsubscribes(desk, served, send, db):
    http, _ = served
    desk.publish(GCR)
    uri = one_click_uri(send()["ops@globex.example"])
    answer = http.post(uri, files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200
    assert contact(db, "ops@globex.example").unsubscribed_at is not None


def test_a_get_of_the_unsubscribe_url_does_not_unsubscribe(desk, served, send, db):
    http, _ = served
    desk.publish(GCR)
    uri = one_click_uri(send()["ops@globex.example"])
    page = http.get(uri)  # a link scanner, or a person clicking
    assert page.status_code == 200
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert http.head(uri).status_code in (200, 405)
    assert contact(db, "ops@globex.example").unsubscribed_at is None
    desk.update("GCR-8201", {"description": "Swapping two line cards."})
    assert "ops@globex.example" in send()


def test_forged_and_malformed_tokens_are_not_found(served, desk, db, settings):
    http, _ = served
    real = unsubscribe_token(settings, 1)
    forged = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    for token in (forged, "1", "x" * 500, "999999." + real.split(".")[1]):
        assert http.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
        assert http.get(f"/preferences/{token}").status_code == 404
    with db() as session:
        assert session.scalar(select(models.Contact).where(models.Contact.unsubscribed_at.is_not(None))) is None


def preferences_uri(message) -> str:
    text = message.get_body(("plain",)).get_content()
    (uri,) = re.findall(r"Choose which notices you get: (\S+)", text)
    return uri


def test_the_preferences_page_changes_what_the_next_notice_does(desk, served, send, db):
    http, _ = served
    desk.publish(GCR)
    uri = preferences_uri(send()["ops@globex.example"])
    page = http.get(uri)
    assert page.status_code == 200 and 'value="NO-IMPACT" selected' in page.text
    every_kind = ["new", "updated", "rescheduled", "reminder", "started", "completed", "cancelled", "emergency"]
    saved = http.post(uri, data={"action": "save", "kinds": every_kind, "min_impact": "OUTAGE", "reminders": "on"})
    assert saved.status_code == 200 and "Saved" in saved.text and 'value="OUTAGE" selected' in saved.text
    degraded = {**GCR, "number": "GCR-8202", "impacts": [{"service": "GLBX-WAVE-1", "impact": "DEGRADED"}]}
    desk.publish(degraded)
    assert "ops@globex.example" not in send()  # below its least impact now
    outage = {**GCR, "number": "GCR-8203", "impacts": [{"service": "GLBX-WAVE-1", "impact": "OUTAGE"}]}
    desk.publish(outage)
    assert "ops@globex.example" in send()
    refused = http.post(uri, data={"action": "save", "kinds": ["new", "bogus"], "min_impact": "HUGE"})
    assert refused.status_code == 422 and "kinds: " in refused.text and "min_impact: " in refused.text
    assert contact(db, "ops@globex.example").min_impact == "OUTAGE"


def test_reminders_off_and_resubscribe_from_the_preferences_page(desk, served, send, db, clock):
    http, _ = served
    desk.publish(GCR)
    message = send()["ops@globex.example"]
    uri = preferences_uri(message)
    assert http.post(uri, data={"kinds": ["new", "updated"], "min_impact": "NO-IMPACT"}).status_code == 200
    assert contact(db, "ops@globex.example").notice_kinds == ["new", "updated"]
    assert contact(db, "ops@globex.example").reminders is False
    http.post(one_click_uri(message), data={"List-Unsubscribe": "One-Click"})
    page = http.get(uri)
    assert "You are <strong>unsubscribed</strong>" in page.text
    assert http.post(uri, data={"action": "resubscribe"}).status_code == 200
    assert contact(db, "ops@globex.example").unsubscribed_at is None
    desk.update("GCR-8201", {"description": "Swapping two line cards."})
    assert "ops@globex.example" in send()  # subscribed again: `updated` is among its kinds


def test_tokens_are_redacted_from_the_access_log(env):
    from support.web import web_process

    with web_process(env) as (url, stop):
        with client(url) as http:
            http.get("/unsubscribe/1.SECRETTOKENabcdefghijklmn")
            http.post("/preferences/1.SECRETTOKENabcdefghijklmn", data={"kinds": "new"})
        log = stop()
    assert "SECRETTOKEN" not in log
    assert "/unsubscribe/<redacted>" in log and "/preferences/<redacted>" in log
