"""Every notice names the customer's account lead under "Questions", beside Change
Management, in its text and HTML parts; a customer without a lead gets no such line."""

from __future__ import annotations

import email
from email import policy

from sqlalchemy import update

from changemgmt.delivery.transports import FileTransport
from changemgmt.delivery.worker import Worker
from changemgmt.store.db import transaction
from changemgmt.store.models import Customer

GCR = {
    "number": "GCR-8401",
    "title": "Line card swap",
    "description": "Swapping a line card.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "DEGRADED"}, {"service": "ACME-ETH-1", "impact": "OUTAGE"}],
}


def sent(desk, engine, settings, clock) -> list[email.message.EmailMessage]:
    desk.publish(GCR)
    worker = Worker(engine, FileTransport(settings.outbox_dir), settings, clock)
    worker.drain()
    worker.close()
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(settings.outbox_dir.glob("*.eml"))
    ]


def test_a_notice_names_the_account_lead_under_questions(desk, engine, db, settings, clock):
    with transaction(db) as session:
        session.execute(
            update(Customer)
            .where(Customer.account == "ACC-1001")
            .values(lead_name="Dana Whitfield", lead_email="dana.whitfield@example.net", lead_phone="+1 214 555 0142")
        )
    messages = sent(desk, engine, settings, clock)
    acme = [m for m in messages if "ACC-1001" in m.get_body(("plain",)).get_content()]
    others = [m for m in messages if m not in acme]
    assert acme and others
    for message in acme:
        text = message.get_body(("plain",)).get_content()
        questions = text.split("QUESTIONS", 1)[1].split("\n\n", 1)[0]
        assert "Change Management" in questions or settings.cm_email in questions
        assert "Your account lead: Dana Whitfield, dana.whitfield@example.net, +1 214 555 0142." in questions
        html = message.get_body(("html",)).get_content()
        assert 'Your account lead: Dana Whitfield, <a href="mailto:dana.whitfield@example.net"' in html
    for message in others:
        assert "account lead" not in message.get_body(("plain",)).get_content()
        assert "account lead" not in message.get_body(("html",)).get_content()
