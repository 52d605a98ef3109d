"""Publishing a GCR through to the messages customers receive: real database, real
worker, file transport, every .eml and .ics parsed back."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import icalendar
import pytest
from sqlalchemy import select

from changemgmt.delivery.transports import FileTransport
from changemgmt.delivery.worker import Worker
from changemgmt.domain.status import Status
from changemgmt.store import models
from changemgmt.store.db import transaction

UTC = UTC
# Window 1 spans the start of US daylight saving time: 01:00 CST -> 07:00 CDT in Chicago.
GCR = {
    "number": "GCR-5001",
    "title": "Core router replacement, Dallas",
    "description": "Replacing the core router chassis in Dallas Central.",
    "reason": "The chassis has reached end of support.",
    "work_location": "Dallas Central POP",
    "windows": [{"start": "2027-03-14T07:00Z", "end": "2027-03-14T12:00Z"}],
    "impacts": [
        {"service": "ACME-ETH-1", "impact": "OUTAGE", "max_outage_minutes": 45},
        {"service": "ACME-DIA-2", "impact": "DEGRADED"},
        {"service": "GLBX-WAVE-1", "impact": "REDUCED-REDUNDANCY"},
        {"service": "INIT-ETH-9", "impact": "OUTAGE"},
    ],
}
IDENTITIES = {
    "ACC-1001": {"ACC-1001", "Acme Logistics", "ACME-ETH-1", "ACME-DIA-2"},
    "ACC-2002": {"ACC-2002", "Globex Corp", "GLBX-WAVE-1"},
    "ACC-3003": {"ACC-3003", "Initech", "INIT-ETH-9"},
}


@pytest.fixture
def worker(engine, settings, clock):
    worker = Worker(engine, FileTransport(settings.outbox_dir), settings, clock)
    yield worker
    worker.close()


def received(settings) -> dict[str, list[email.message.EmailMessage]]:
    """Every .eml written, parsed, by recipient address."""
    by_address: dict[str, list] = {}
    for path in sorted(settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        by_address.setdefault(str(message["To"].addresses[0].addr_spec), []).append(message)
    return by_address


def parts(message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() != "multipart":
            found[part.get_content_type()] = part.get_content()
    return found


def everything_said(message) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    bodies = parts(message)
    ics = bodies.get("text/calendar", b"")
    return (
        headers
        + "\n".join(v for v in bodies.values() if isinstance(v, str))
        + (ics.decode() if isinstance(ics, bytes) else ics)
    )


def calendar_of(message) -> icalendar.Calendar:
    attachment = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    calendar = icalendar.Calendar.from_ical(attachment.get_payload(decode=True))
    assert all(c.errors == [] for c in calendar.walk())
    return calendar


def test_publishing_sends_each_customer_only_its_own_services(desk, worker, settings):
    desk.publish(GCR)
    assert worker.drain() == 3
    mail = received(settings)
    assert set(mail) == {"noc@acme.example", "it@acme-holdings.example", "ops@globex.example", "noc@initech.example"}
    accounts = {
        "noc@acme.example": "ACC-1001",
        "it@acme-holdings.example": "ACC-1001",
        "ops@globex.example": "ACC-2002",
        "noc@initech.example": "ACC-3003",
    }
    for address, messages in mail.items():
        (message,) = messages
        own = accounts[address]
        said = everything_said(message)
        for identity in IDENTITIES[own]:
            assert identity in said
        for other, identities in IDENTITIES.items():
            if other != own:
                assert not [i for i in identities if i in said], f"{address} sees {other}"
        event = calendar_of(message).walk("VEVENT")[0]
        assert str(event["X-MAINTNOTE-ACCOUNT"]) == own


def test_times_are_shown_in_the_customers_zone_and_in_utc(desk, worker, settings):
    desk.publish(GCR)
    worker.drain()
    mail = received(settings)
    acme = parts(mail["noc@acme.example"][0])
    for body in (acme["text/plain"], acme["text/html"]):
        assert "01:00 CST" in body and "07:00 UTC" in body  # before the change
        assert "07:00 CDT" in body and "12:00 UTC" in body  # after it
    globex = parts(mail["ops@globex.example"][0])["text/plain"]
    assert "07:00 UTC" in globex and "CST" not in globex
    enterprise = parts(mail["it@acme-holdings.example"][0])["text/plain"]
    assert "01:00 CST" in enterprise  # a parent's contact reads the child account's zone


def test_every_message_carries_the_headers_customers_rely_on(desk, worker, settings, clock):
    desk.publish(GCR)
    worker.drain()
    clock.advance(hours=1)
    desk.update("GCR-5001", {"windows": [{"number": 1, "start": "2027-03-21T07:00Z", "end": "2027-03-21T12:00Z"}]})
    assert worker.drain() == 3
    mail = received(settings)
    message_ids = set()
    for new, rescheduled in mail.values():
        assert "New" in new["Subject"] and "GCR-5001" in new["Subject"]
        assert "Rescheduled" in rescheduled["Subject"]
        for message in (new, rescheduled):
            message_ids.add(message["Message-ID"])
            assert message["From"] == settings.mail_from
            assert message["Reply-To"] == settings.reply_to
            assert message["Date"]
            unsubscribe = message["List-Unsubscribe"]
            assert "<mailto:" in unsubscribe and f"<{settings.base_url}/unsubscribe/" in unsubscribe
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert [p.get_content_type() for p in message.walk()][:4] == [
                "multipart/mixed",
                "multipart/alternative",
                "text/plain",
                "text/html",
            ]
            attachment = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
            assert attachment.get_param("method") is None and b"METHOD" not in attachment.get_payload(decode=True)
        # one synthetic root per GCR and customer threads the notices together
        assert new["References"] == rescheduled["References"] == rescheduled["In-Reply-To"]
    assert len(message_ids) == 8
    roots = {mail[a][0]["References"] for a in ("noc@acme.example", "ops@globex.example", "noc@initech.example")}
    assert len(roots) == 3


def test_a_reschedule_says_what_changed_and_bumps_the_sequence(desk, worker, settings, clock):
    desk.publish(GCR)
    worker.drain()
    clock.advance(hours=1)
    desk.update("GCR-5001", {"windows": [{"number": 1, "start": "2027-03-21T07:00Z", "end": "2027-03-21T12:00Z"}]})
    worker.drain()
    new, rescheduled = received(settings)["ops@globex.example"]
    first = calendar_of(new).walk("VEVENT")[0]
    second = calendar_of(rescheduled).walk("VEVENT")[0]
    assert first["UID"] == second["UID"]
    assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])
    assert second.decoded("DTSTART") == datetime(2027, 3, 21, 7, tzinfo=UTC)
    text = parts(rescheduled)["text/plain"]
    assert "Window 1 moved" in text and "Sun 14 Mar 2027 07:00 UTC" in text and "Sun 21 Mar 2027 07:00 UTC" in text


def test_a_change_to_another_customers_services_sends_this_one_nothing(desk, worker, settings, clock, db):
    desk.publish(GCR)
    worker.drain()
    clock.advance(hours=1)
    impacts = [i if i["service"] != "GLBX-WAVE-1" else {**i, "impact": "OUTAGE"} for i in GCR["impacts"]]
    desk.update("GCR-5001", {"impacts": impacts})
    assert worker.drain() == 1
    mail = received(settings)
    assert len(mail["ops@globex.example"]) == 2 and len(mail["noc@acme.example"]) == 1
    with db() as session:
        events = {(e.customer_id, e.sequence) for e in session.scalars(select(models.Event))}
    assert sorted(s for _, s in events) == [2, 2, 3]


def test_every_delivery_and_attempt_is_recorded(desk, worker, db):
    desk.publish(GCR)
    worker.drain()
    with db() as session:
        deliveries = session.scalars(select(models.Delivery)).all()
        attempts = session.scalars(select(models.DeliveryAttempt)).all()
        recipients = session.scalars(select(models.Recipient)).all()
        notices = session.scalars(select(models.Notice)).all()
    assert {d.state for d in deliveries} == {"sent"} and all(d.attempts == 1 for d in deliveries)
    assert {(a.outcome, a.number) for a in attempts} == {("sent", 1)}
    assert {r.state for r in recipients} == {"sent"} and len(recipients) == 4
    assert {(n.kind, n.state) for n in notices} == {("new", "sent")}


def test_an_unsubscribed_contact_gets_nothing(desk, worker, settings, db, now):
    with transaction(db) as session:
        contact = session.scalar(select(models.Contact).where(models.Contact.email == "it@acme-holdings.example"))
        contact.unsubscribed_at = now
    desk.publish(GCR)
    worker.drain()
    assert "it@acme-holdings.example" not in received(settings)
    assert "noc@acme.example" in received(settings)


def test_cancelling_before_the_new_notice_went_out_skips_it_with_the_reason(desk, worker, settings, db):
    desk.publish(GCR)
    desk.status("GCR-5001", Status.CANCELLED)
    assert worker.drain() == 0
    assert received(settings) == {}
    with db() as session:
        notices = session.scalars(select(models.Notice)).all()
    assert {n.state for n in notices} == {"skipped"}
    assert all("cancelled before" in n.skip_reason for n in notices)


def test_cancelling_after_notice_tells_every_notified_customer(desk, worker, settings):
    desk.publish(GCR)
    worker.drain()
    desk.status("GCR-5001", Status.CANCELLED)
    assert worker.drain() == 3
    cancelled = received(settings)["ops@globex.example"][1]
    assert "Cancelled" in cancelled["Subject"]
    event = calendar_of(cancelled).walk("VEVENT")[0]
    assert str(event["STATUS"]) == "CANCELLED" and str(event["X-MAINTNOTE-STATUS"]) == "CANCELLED"
    assert "GLBX-WAVE-1" in str(event.get("X-MAINTNOTE-OBJECT-ID"))


def test_a_dropped_customer_is_told_it_is_no_longer_affected(desk, worker, settings, clock):
    desk.publish(GCR)
    worker.drain()
    clock.advance(hours=1)
    desk.update("GCR-5001", {"impacts": [i for i in GCR["impacts"] if i["service"] != "INIT-ETH-9"]})
    assert worker.drain() == 1
    notice = received(settings)["noc@initech.example"][1]
    assert "Cancelled" in notice["Subject"]
    assert "no longer affects" in parts(notice)["text/plain"]
    assert "INIT-ETH-9" in everything_said(notice)  # a cancelled notice still lists its services


def test_an_enterprise_contact_is_greeted_as_itself_and_told_which_account(desk, worker, settings):
    desk.publish(GCR)
    worker.drain()
    mail = received(settings)
    enterprise = parts(mail["it@acme-holdings.example"][0])
    own = parts(mail["noc@acme.example"][0])
    for body in (enterprise["text/plain"], enterprise["text/html"]):
        assert "Dear Acme Holdings team," in body
        assert "This notice concerns your account Acme Logistics (ACC-1001)." in body
    for body in (own["text/plain"], own["text/html"]):
        assert "Dear Acme Logistics team," in body
        assert "Acme Holdings" not in body  # never another organisation's name


def test_status_words_in_what_changed_are_capitalised(desk, worker, settings):
    desk.publish(GCR, Status.TENTATIVE)
    worker.drain()
    desk.status("GCR-5001", Status.CANCELLED)
    worker.drain()
    cancelled = parts(received(settings)["ops@globex.example"][1])
    for body in (cancelled["text/plain"], cancelled["text/html"]):
        assert "Status: Tentative -&gt; Cancelled" in body or "Status: Tentative -> Cancelled" in body
        assert "tentative -> cancelled" not in body


def test_a_customer_who_only_saw_window_2_reads_of_one_window_with_bcop_id_of_window_2(desk, worker, settings):
    two = {**GCR, "windows": GCR["windows"] + [{"start": "2027-03-21T07:00Z", "end": "2027-03-21T12:00Z"}]}
    desk.create(two)
    desk.update("GCR-5001", {"windows": [{"number": 2, "start": "2027-03-21T07:00Z", "end": "2027-03-21T12:00Z"}]})
    desk.status("GCR-5001", Status.CONFIRMED)
    worker.drain()
    message = received(settings)["ops@globex.example"][0]
    for body in (parts(message)["text/plain"], parts(message)["text/html"]):
        assert "Window 2" not in body and "window 2" not in body
    (event,) = calendar_of(message).walk("VEVENT")
    assert str(event["X-MAINTNOTE-MAINTENANCE-ID"]) == "GCR-5001-2"  # BCOP ids never change
    assert str(event["UID"]).startswith("GCR-5001-W2-ACC-2002@")
