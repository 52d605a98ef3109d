"""A notice as an outgoing message: MIME, headers, threading, the SendGrid body."""

from __future__ import annotations

import base64
import email
import json
from dataclasses import replace
from email import policy
from html import escape as html_escape

import pytest

from changemgmt.config import load_settings
from changemgmt.content.view import CustomerView, Recipient
from changemgmt.delivery.message import build_email, build_ics, sendgrid_body, thread_id
from changemgmt.domain.notice import NoticeKind
from support.mail import header_block, mailboxes, raw_field, raw_fields, subjects
from support.sendgrid_server import extra_problems, load_validator
from support.views import notice, recipients

SETTINGS = load_settings(
    {
        "PROVIDER_DOMAIN": "example.net",
        "PROVIDER_NAME": "Example Networks",
        "BASE_URL": "https://cm.example.net/",
        "REPLY_TO": "noc-help@example.net",
    }
)


def outgoing(**changes):
    return build_email(notice(**changes), recipients(), SETTINGS)


def parsed(message, index: int = 0):
    raw = message.email_for(message.recipients[index]).as_bytes()
    return email.message_from_bytes(raw, policy=policy.default)


def test_the_email_is_text_then_html_plus_the_calendar_attachment():
    msg = parsed(outgoing())
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]
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
        "<https://cm.example.net/unsubscribe/tok-ops-12>"
    )
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


# --- Headers as raw bytes: what mailbox providers and mail clients actually read -------

REAL_TOKEN = "1234.ABCDEFGHIJKLMNOPQRSTUVWXYZab"  # the shape of tokens.unsubscribe_token
LONG = load_settings(
    {
        "PROVIDER_DOMAIN": "notifications.example-networks-carrier.com",
        "PROVIDER_NAME": "Example Networks",
        "BASE_URL": "https://change-management.notifications.example-networks-carrier.com/portal",
        "MAIL_FROM": "Example Networks Change Management <change-management@example-networks-carrier.com>",
    }
)


def raw_copy(message, index: int = 0) -> bytes:
    return message.email_for(message.recipients[index]).as_bytes()


def with_token(*recipient_list, token=REAL_TOKEN):
    return [replace(r, unsubscribe_token=token) for r in recipient_list]


@pytest.mark.parametrize("settings", [SETTINGS, LONG], ids=["short", "long-domain"])
def test_list_unsubscribe_is_two_plain_ascii_uris_on_the_wire(settings):
    message = build_email(notice(), with_token(*recipients()), settings)
    raw = raw_copy(message)
    base = settings.base_url.rstrip("/")
    assert raw_field(raw, "List-Unsubscribe") == (
        f"<mailto:unsubscribe@{settings.provider_domain}?subject=unsubscribe-{REAL_TOKEN}>, "
        f"<{base}/unsubscribe/{REAL_TOKEN}>"
    )
    assert raw_field(raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert b"=?" not in header_block(raw)  # nothing in this message needs an encoded word


@pytest.mark.parametrize("settings", [SETTINGS, LONG], ids=["short", "long-domain"])
def test_ids_dates_and_addresses_are_written_plain(settings):
    view = notice(customer=CustomerView("ACC-100123-WAYNE-HOTELS-MIAMI-BEACH", "Wayne Hotels Miami", "UTC"))
    raw = raw_copy(build_email(view, with_token(*recipients()), settings))
    domain = settings.provider_domain
    root = f"<gcr-1001.acc-100123-wayne-hotels-miami-beach@{domain}>"
    assert raw_field(raw, "References") == raw_field(raw, "In-Reply-To") == root
    assert raw_field(raw, "Message-ID") == f"<notice-7.11@{domain}>"
    assert raw_field(raw, "Date") == "Mon, 02 Nov 2026 15:00:00 +0000"
    assert raw_field(raw, "Auto-Submitted") == "auto-generated"
    assert raw_field(raw, "To") == "Acme NOC <noc@acme.example>"
    assert raw_field(raw, "From") == settings.mail_from
    assert raw_field(raw, "Reply-To") == settings.reply_to
    for name, _, lines in raw_fields(raw):
        assert all(len(line) <= 998 for line in lines), name
        # Past 78 characters only where a single token (a URI, an id) cannot be folded.
        assert all(
            len(line) <= 78
            or " " not in line.strip()
            or name in ("List-Unsubscribe", "References", "In-Reply-To", "Message-ID", "From")
            for line in lines
        ), (name, lines)


@pytest.mark.parametrize(
    "title",
    [
        "Réparation de la fibre — anneau de Dallas",
        "Splice =?utf-8?q?FREE_MONEY?= now",
        "=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGU=?=",
        "A title with a " + "very" * 30 + "longword and more words after it to fold",
        'Quotes "here", <angles> and commas, (parens)',
    ],
)
def test_the_subject_reads_as_the_literal_title_in_every_parser(title):
    message = build_email(notice(title=title), recipients(), SETTINGS)
    raw = raw_copy(message)
    header_block(raw).decode("ascii")  # raises if anything is not ASCII
    assert subjects(raw) == {"default": message.subject, "compat32": message.subject}
    assert title in message.subject


EVIL = "=?utf-8?b?" + base64.b64encode(b"evil@evil.example, x").decode() + "?="
HOSTILE_NAMES = [
    EVIL,
    "=?utf-8?q?evil=40evil=2Eexample=2C_x?=",
    "Pat =?utf-8?q?=3Cboss=40acme=2Eexample=3E?=",
    "Acme, Inc. <noc@evil.example>",
    'Pat "The Boss" O\'Brien \\ NOC',
    "Zoë Müller-Lüdenscheidt",
    "N" * 200,
    "Wayne Hotels " * 15 + "NOC",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_recipient_name_is_one_literal_mailbox_for_every_parser(name):
    message = build_email(notice(), [Recipient(11, "noc@acme.example", name, REAL_TOKEN)], SETTINGS)
    raw = raw_copy(message)
    header_block(raw).decode("ascii")
    assert mailboxes(raw, "To") == {"default": [(name, "noc@acme.example")], "compat32": [(name, "noc@acme.example")]}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_the_sender_name_from_config_is_one_literal_mailbox_for_every_parser(name):
    # Built past load_settings, which refuses such names: the headers must hold even so.
    settings = replace(load_settings({}), mail_from=f"{name} <cm@example.net>", reply_to=f"{name} <help@example.net>")
    raw = raw_copy(build_email(notice(), recipients(), settings))
    assert mailboxes(raw, "From") == {"default": [(name, "cm@example.net")], "compat32": [(name, "cm@example.net")]}
    assert mailboxes(raw, "Reply-To") == {
        "default": [(name, "help@example.net")],
        "compat32": [(name, "help@example.net")],
    }


def test_the_sendgrid_body_carries_no_encoded_word_a_client_would_decode():
    people = [
        Recipient(11, "noc@acme.example", EVIL, REAL_TOKEN),
        Recipient(12, "ops@acme.example", "Pat Ops", REAL_TOKEN + "x"),
    ]
    settings = replace(
        load_settings({"BASE_URL": LONG.base_url, "PROVIDER_DOMAIN": LONG.provider_domain}),
        mail_from=f"{EVIL} <cm@example.net>",
        reply_to=f"{EVIL} <help@example.net>",
    )
    body = sendgrid_body(build_email(notice(title=f"Splice {EVIL}"), people, settings))
    assert list(load_validator().iter_errors(body)) == [] and extra_problems(body) == []
    assert "=?" not in json.dumps(body["personalizations"]) + json.dumps(body["from"]) + json.dumps(body["reply_to"])
    assert "=?" not in body["subject"] and "Splice" in body["subject"]
    first = body["personalizations"][0]
    assert first["headers"]["List-Unsubscribe"] == (
        f"<mailto:unsubscribe@{LONG.provider_domain}?subject=unsubscribe-{REAL_TOKEN}>, "
        f"<{LONG.base_url}/unsubscribe/{REAL_TOKEN}>"
    )
    for value in [*body["headers"].values(), *first["headers"].values()]:
        assert value.isascii() and value.isprintable()


def test_a_long_non_ascii_name_is_encoded_words_that_every_reader_joins_into_one_mailbox():
    name = "Zoë Müller " * 8 + "NOC"
    raw = raw_copy(build_email(notice(), [Recipient(11, "noc@acme.example", name, REAL_TOKEN)], SETTINGS))
    assert all(len(line) <= 78 for _, _, lines in raw_fields(raw)[:2] for line in lines)
    seen = mailboxes(raw, "To")
    assert seen["compat32"] == [(name, "noc@acme.example")]
    # Python's policy.default parser keeps the space between two encoded words of a display
    # name, where RFC 2047 §6.2 (and compat32, and mail clients) ignore it: one mailbox still.
    [(shown, address)] = seen["default"]
    assert address == "noc@acme.example" and shown.replace(" ", "") == name.replace(" ", "")


# --- One rendering per notice, each copy greeting its own organisation ------------------

WAYNE = CustomerView("ACC-100123", "Wayne Hotels Miami", "America/New_York")
ORGANISED = (
    Recipient(11, "noc@wayne-miami.example", "Miami NOC", "tok-11", organisation="Wayne Hotels Miami"),
    Recipient(12, "it@wayne.example", "Wayne IT", "tok-12", organisation="Wayne Enterprises & Sons <HQ>"),
    Recipient(13, "x@wayne.example", "X", "tok-13", organisation="Wayne =?utf-8?q?Evil?= Ltd"),
)


def bodies(raw: bytes) -> tuple[str, str]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    return tuple(msg.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))


def test_each_copy_greets_its_own_organisation_and_names_the_account_it_concerns():
    message = build_email(notice(customer=WAYNE), ORGANISED, SETTINGS)
    for index, recipient in enumerate(ORGANISED):
        text, html = bodies(raw_copy(message, index))
        assert f"Dear {recipient.organisation} team," in text
        assert f"Dear {html_escape(recipient.organisation, quote=False)} team," in html
        for part in (text, html):
            assert "This notice concerns your account Wayne Hotels Miami (ACC-100123)." in part
            others = [r.organisation for r in ORGANISED if r is not recipient and r.organisation != WAYNE.name]
            assert not [o for o in others if o in part or html_escape(o, quote=False) in part]


def test_sendgrid_greets_each_personalization_by_substitution_and_says_the_same_as_the_mime_copy():
    message = build_email(notice(customer=WAYNE), [replace(r, delivery_id=9) for r in ORGANISED], SETTINGS)
    body = sendgrid_body(message)
    assert list(load_validator().iter_errors(body)) == [] and extra_problems(body) == []
    assert "template_id" not in body
    shared = json.dumps([body["subject"], body["content"], body["headers"]])
    assert not [r.organisation for r in ORGANISED[1:] if r.organisation in shared]
    for index, personalization in enumerate(body["personalizations"]):
        substitutions = personalization["substitutions"]
        assert len(json.dumps(substitutions).encode()) <= 10_000
        text, html = (c["value"] for c in body["content"])
        for key, value in substitutions.items():
            text, html = text.replace(key, value), html.replace(key, value)
        assert (text, html) == bodies(raw_copy(message, index))
        others = [r.organisation for r in ORGANISED if r is not ORGANISED[index]]
        assert not [o for o in others if o in json.dumps(personalization)]


def test_a_recipient_without_an_organisation_is_greeted_as_the_account():
    text, _ = bodies(raw_copy(build_email(notice(customer=WAYNE), recipients(), SETTINGS)))
    assert "Dear Wayne Hotels Miami team," in text


def test_an_organisation_name_from_before_the_limits_still_fits_a_sendgrid_substitution():
    huge = Recipient(11, "noc@acme.example", "NOC", "tok", delivery_id=1, organisation="&" * 20_000 + "🙂" * 5_000)
    body = sendgrid_body(build_email(notice(), [huge], SETTINGS))
    assert extra_problems(body) == [] and list(load_validator().iter_errors(body)) == []
