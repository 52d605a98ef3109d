"""Invitations by email through each transport against its real peer (the outbox
folder, aiosmtpd, the loopback SendGrid): the email carries a link that sets the
password once; each invitation and its outcome are in the audit trail, a failed send
too; `changemgmt users invite` sends it and prints the link."""

from __future__ import annotations

import email
import re
from dataclasses import replace
from email import policy

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from changemgmt.cli.context import AppContext
from changemgmt.cli.main import cli
from changemgmt.config import load_settings
from changemgmt.delivery.transports import FileTransport, SendGridTransport, SmtpTransport
from changemgmt.store.models import AuditEntry
from changemgmt.users.invitations import send_invitation
from support.portal import ENTERPRISE, PASSWORD, csrf_of, customer_user, portal_server
from support.sendgrid_server import FakeSendGrid
from support.smtp_server import SmtpServer, free_port

LINK = re.compile(r"http://localhost:8000(/invitation/[^\s\"<]+)")


@pytest.fixture
def invited(desk, db, clock):
    customer_user(db, clock, "new@acme.example", [("ENT-100", ENTERPRISE)], password=None)
    return "new@acme.example"


def outcomes(db) -> list[tuple[str, dict]]:
    with db() as session:
        rows = session.execute(select(AuditEntry.action, AuditEntry.details).where(AuditEntry.action.like("invite%")))
        return [(action, details) for action, details in rows]


def takes_up(url: str, path: str) -> None:
    """The link sets the password and signs in, once."""
    client = httpx.Client(base_url=url, follow_redirects=True)
    form = client.get(path)
    assert form.status_code == 200
    done = client.post(path, data={"csrf": csrf_of(form.text), "password": PASSWORD, "again": PASSWORD})
    assert str(done.url).endswith("/portal/ENT-100/")
    assert client.get(path).status_code == 404


def test_through_smtp_the_link_works_once(invited, db, settings, clock):
    with SmtpServer() as server:
        transport = SmtpTransport(server.host, server.port)
        sent = send_invitation(db, settings, transport, invited, "carol", clock())
        [received] = server.messages
    assert sent.sent and received.rcpt_tos == [invited]
    mail = received.parsed()
    assert mail["Subject"] == "Your Example Networks maintenance pages sign-in"
    text, html = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
    path = LINK.search(text).group(1)
    assert path in html and sent.url.endswith(path)
    assert [a for a, _ in outcomes(db)] == ["invite", "invite_sent"]
    with portal_server(settings, clock) as url:
        takes_up(url, path)


def test_through_sendgrid_the_request_is_valid_and_the_link_works(invited, db, settings, clock):
    with FakeSendGrid() as sendgrid:
        transport = SendGridTransport("SG.test", sendgrid.url)
        sent = send_invitation(db, settings, transport, invited, "carol", clock())
        [request] = sendgrid.requests
    assert sent.sent and request.problems == []
    assert request.body["personalizations"][0]["to"] == [{"email": invited}]
    path = LINK.search(request.body["content"][0]["value"]).group(1)
    with portal_server(settings, clock) as url:
        takes_up(url, path)


def test_through_the_outbox_a_second_invitation_is_a_second_file(invited, db, settings, clock):
    transport = FileTransport(settings.outbox_dir)
    send_invitation(db, settings, transport, invited, "carol", clock())
    clock.advance(minutes=1)
    send_invitation(db, settings, transport, invited, "carol", clock())
    assert len(list(settings.outbox_dir.glob("mail-invitation-*.eml"))) == 2


def test_a_failed_send_is_recorded_with_its_reason(invited, db, settings, clock):
    transport = SmtpTransport("127.0.0.1", free_port(), timeout=2)
    sent = send_invitation(db, settings, transport, invited, "carol", clock())
    assert not sent.sent and "unreachable" in sent.error
    [(_, _), (action, details)] = outcomes(db)
    assert action == "invite_failed" and "unreachable" in details["error"]


def test_the_cli_emails_the_invitation_and_prints_the_link(invited, run, settings):
    said = run("users", "invite", invited).splitlines()
    assert said[0] == f"invitation emailed to {invited} through file; its link:"
    [path] = settings.outbox_dir.glob("mail-invitation-*.eml")
    mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail["To"] == invited
    assert LINK.search(mail.get_body(("plain",)).get_content()).group(0) == said[1]


def test_the_cli_says_when_the_email_was_not_sent(invited, env, now):
    settings = replace(load_settings(env), email_backend="smtp", smtp_host="127.0.0.1", smtp_port=free_port())
    result = CliRunner().invoke(cli, ["users", "invite", invited], obj=AppContext(settings, "carol", lambda: now))
    assert result.exit_code == 1
    assert "was not sent" in result.output and "http://localhost:8000/invitation/" in result.output
