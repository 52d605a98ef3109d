"""A transactional email (delivery.mail) through every transport's `send_mail`, against
its real peer: the outbox folder, aiosmtpd, the loopback SendGrid, and the in-memory
double; failures sorted by whether retrying can help, as for notices."""

from __future__ import annotations

import email
import stat
from datetime import UTC, datetime
from email import policy

import pytest

from changemgmt.config import load_settings
from changemgmt.delivery.mail import Mail
from changemgmt.delivery.transports import (
    FileTransport,
    InMemoryTransport,
    SendError,
    SendGridTransport,
    SmtpTransport,
)
from support.sendgrid_server import FakeSendGrid
from support.smtp_server import SmtpServer

SETTINGS = load_settings({"PROVIDER_DOMAIN": "example.net", "BASE_URL": "https://cm.example.net"})
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def mail() -> Mail:
    return Mail.of(
        SETTINGS, "invitation-7-0-1", "dana@acme.example", "Your sign-in", "Hello Dana\n", "<p>Hello Dana</p>", NOW
    )


def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def test_the_same_mail_is_the_same_bytes(mail):
    assert mail.email().as_bytes() == mail.email().as_bytes()
    message = parsed(mail.email().as_bytes())
    assert message["To"] == "dana@acme.example" and message["Message-ID"] == "<invitation-7-0-1@example.net>"
    assert message["From"] == SETTINGS.mail_from and message["Auto-Submitted"] == "auto-generated"
    assert message.get_body(("plain",)).get_content().strip() == "Hello Dana"
    assert message.get_body(("html",)).get_content().strip() == "<p>Hello Dana</p>"


def test_the_outbox_keeps_every_send_in_its_own_private_file(mail, tmp_path):
    transport = FileTransport(tmp_path / "outbox")
    transport.send_mail(mail)
    transport.send_mail(mail)
    files = sorted(p.name for p in (tmp_path / "outbox").glob("*.eml"))
    assert files == ["mail-invitation-7-0-1-2.eml", "mail-invitation-7-0-1.eml"]
    path = tmp_path / "outbox" / files[1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == mail.email().as_bytes()


def test_smtp_delivers_it_to_the_one_recipient(mail):
    with SmtpServer() as server:
        SmtpTransport(server.host, server.port).send_mail(mail)
        [received] = server.messages
    assert received.rcpt_tos == ["dana@acme.example"] and received.mail_from == "change-management@example.net"
    assert parsed(received.data)["Subject"] == "Your sign-in"


@pytest.mark.parametrize(("reply", "permanent"), [("550 5.1.1 No such user", True), ("450 4.2.0 Busy", False)])
def test_an_smtp_refusal_says_whether_retrying_can_help(mail, reply, permanent):
    with SmtpServer() as server:
        server.refuse_recipients(reply)
        with pytest.raises(SendError) as caught:
            SmtpTransport(server.host, server.port).send_mail(mail)
    assert caught.value.permanent is permanent and "dana@acme.example" in str(caught.value)


def test_sendgrid_takes_a_valid_request_for_it(mail):
    with FakeSendGrid() as sendgrid:
        result = SendGridTransport("SG.test", sendgrid.url).send_mail(mail)
        [request] = sendgrid.requests
    assert result.provider_message_id == "fake-msg-1" and request.problems == []
    assert request.body["personalizations"] == [
        {"to": [{"email": "dana@acme.example"}], "custom_args": {"mail": "invitation-7-0-1"}}
    ]
    assert [c["value"] for c in request.body["content"]] == ["Hello Dana\n", "<p>Hello Dana</p>"]


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (503, False)])
def test_a_sendgrid_error_says_whether_retrying_can_help(mail, status, permanent):
    with FakeSendGrid() as sendgrid:
        sendgrid.answer_next(status)
        with pytest.raises(SendError) as caught:
            SendGridTransport("SG.test", sendgrid.url).send_mail(mail)
    assert caught.value.permanent is permanent and caught.value.status == status


def test_the_memory_double_keeps_it_or_fails_as_told(mail):
    transport = InMemoryTransport()
    transport.send_mail(mail)
    transport.fail_next(SendError("down", permanent=False))
    with pytest.raises(SendError):
        transport.send_mail(mail)
    assert transport.mails == [mail] and transport.sent == []
