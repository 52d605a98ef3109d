"""A notice as an outgoing message: MIME, headers, threading, the SendGrid body."""
from __future__ import annotations

import base64
import email
from dataclasses import replace
from email import policy

import pytest

from changemgmt.config import load_settings
from changemgmt.domain.notice import NoticeKind
from changemgmt.notify.message import build_email, build_ics, sendgrid_body, thread_id
from changemgmt.notify.view import CustomerView, Recipient
from tests.support.sendgrid_server import extra_problems, load_validator
from tests.support.views import notice, recipients

SETTINGS = load_settings({
    "PROVIDER_DOMAIN": "example.net", "PROVIDER_NAME": "Example Networks",
    "BASE_URL": "https://cm.example.net/", "REPLY_TO": "noc-help@example.net",
})


def outgoing(**changes):
    return build_email(notice(**changes), recipients(), SETTINGS)


def parsed(message, index: int = 0):
    raw = message.email_for(message.recipients[index]).as_bytes()
    return email.message_from_bytes(raw, policy=policy.default)


def test_the_email_is_text_then_html_plus_the_calendar_attachment():
    msg = parsed(outgoing())
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"]
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert "GCR-1001" in text.get_content() and "GCR-1001" in html.get_content()


def test_the_attachment_is_the_exact_bcop_calendar_without_a_method():
    message = outgoing()
    attachment = next(parsed(message).iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") is None
    assert attachment.get_param("charset") == "utf-8"
    assert attachment.get_filename() == "GCR-1001.ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_payload(decode=True) == message.ics == build_ics(notice(), SETTINGS)
    assert b"\r\nMETHOD" not in message.ics


def test_headers_name_sender_recipient_date_and_a_message_id_per_recipient():
    message = outgoing()
    first, second = parsed(message, 0), parsed(message, 1)
    assert first["From"] == "Example Networks Change Management <change-management@example.net>"
    assert first["Reply-To"] == "noc-help@example.net"
    assert first["To"] == "Acme NOC <noc@acme.example>"
    assert first["Date"] == "Mon, 02 Nov 2026 15:00:00 +0000"
    assert first["Message-ID"] == "<notice-7.11@example.net>"
    assert second["Message-ID"] == "<notice-7.12@example.net>"
    assert first["Auto-Submitted"] == "auto-generated"


def test_all_notices_of_a_gcr_to_a_customer_thread_on_one_synthetic_root():
    roots = {parsed(outgoing(kind=kind, notice_id=i))["References"] for i, kind in enumerate(NoticeKind)}
    assert roots == {"<gcr-1001.acme-001@example.net>"}
    msg = parsed(outgoing())
    assert msg["In-Reply-To"] == msg["References"] == "<gcr-1001.acme-001@example.net>"
    other = parsed(outgoing(customer=CustomerView("Beta Ltd/7", "Beta", "UTC")))
    assert other["References"] == "<gcr-1001.beta-ltd-7@example.net>"


def test_thread_ids_are_sanitized():
    assert thread_id("GCR-77", "Acme <Corp>", "example.net") == "<gcr-77.acme-corp-@example.net>"


def test_every_copy_carries_its_own_one_click_unsubscribe():
    msg = parsed(outgoing(), 1)
    assert msg["List-Unsubscribe"].strip() == (
        "<mailto:unsubscribe@example.net?subject=unsubscribe-tok-ops-12>, "
        "<https://cm.example.net/unsubscribe/tok-ops-12>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_same_notice_gives_the_same_bytes():
    a, b = outgoing(), outgoing()
    assert a.email_for(a.recipients[0]).as_bytes() == b.email_for(b.recipients[0]).as_bytes()


def test_line_breaks_in_names_and_titles_cannot_add_headers():
    sneaky = Recipient(13, "x@acme.example", "Eve\r\nBcc: all@example.org", "tok")
    message = build_email(notice(title="Splice\nBcc: all@example.org"), [sneaky], SETTINGS)
    msg = parsed(message)
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"] and "Splice Bcc" in msg["Subject"]


def test_repeated_addresses_get_one_copy():
    twice = recipients() + (Recipient(99, "NOC@acme.example", "Again", "tok-99"),)
    assert [r.contact_id for r in build_email(notice(), twice, SETTINGS).recipients] == [11, 12]


def test_the_sendgrid_body_is_valid_and_private_per_recipient():
    message = build_email(notice(), [replace(r, delivery_id=500 + r.contact_id) for r in recipients()], SETTINGS)
    body = sendgrid_body(message)
    assert list(load_validator().iter_errors(body)) == []
    assert extra_problems(body) == []
    first, second = body["personalizations"]
    assert first["to"] == [{"email": "noc@acme.example", "name": "Acme NOC"}]
    assert second["to"] == [{"email": "ops@acme.example", "name": "Pat Ops"}]
    assert first["custom_args"] == {"notice_id": "7", "contact_id": "11", "delivery_id": "511"}
    assert "tok-noc-11" in first["headers"]["List-Unsubscribe"]
    assert "tok-ops-12" in second["headers"]["List-Unsubscribe"]
    assert body["from"] == {"email": "change-management@example.net", "name": "Example Networks Change Management"}
    assert body["reply_to"] == {"email": "noc-help@example.net"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["headers"]["References"] == "<gcr-1001.acme-001@example.net>"
    assert "Message-ID" not in body["headers"]
    attachment = body["attachments"][0]
    assert attachment["type"] == "text/calendar" and attachment["filename"] == "GCR-1001.ics"
    assert base64.b64decode(attachment["content"]) == message.ics


def test_a_sendgrid_body_holds_at_most_1000_recipients():
    many = [Recipient(i, f"c{i}@acme.example", f"C {i}", f"t{i}") for i in range(2500)]
    message = build_email(notice(), many, SETTINGS)
    with pytest.raises(ValueError, match="split"):
        sendgrid_body(message)
    chunks = message.split()
    assert [len(c.recipients) for c in chunks] == [1000, 1000, 500]
    assert all(not extra_problems(sendgrid_body(c)) for c in chunks)


def test_a_message_can_be_narrowed_to_some_recipients():
    assert [r.contact_id for r in outgoing().only([12]).recipients] == [12]


def test_a_comma_in_the_sender_name_stays_one_address():
    settings = load_settings({"MAIL_FROM": "Acme, Inc. Change Management <cm@acme.example>"})
    message = build_email(notice(), recipients(), settings)
    msg = parsed(message)
    assert msg["From"].addresses[0].display_name == "Acme, Inc. Change Management"
    assert msg["From"].addresses[0].addr_spec == "cm@acme.example"
    assert sendgrid_body(message)["from"] == {"email": "cm@acme.example", "name": "Acme, Inc. Change Management"}
