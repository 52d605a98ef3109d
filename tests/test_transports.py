"""Transports against real servers on 127.0.0.1: SendGrid (through the real `sendgrid`
client), SMTP (aiosmtpd), the outbox folder, and the in-memory double."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest

from changemgmt.config import load_settings
from changemgmt.content.view import Recipient
from changemgmt.delivery.message import build_email
from changemgmt.delivery.transports import (
    FileTransport,
    InMemoryTransport,
    SendError,
    SendGridTransport,
    SendResult,
    SmtpTransport,
    make_transport,
)
from support.sendgrid_server import FakeSendGrid
from support.smtp_server import SmtpServer, free_port
from support.views import notice, recipients
from support.waiting import eventually

NOW = 1_790_000_000.0
SETTINGS = load_settings({"PROVIDER_DOMAIN": "example.net", "BASE_URL": "https://cm.example.net"})


@pytest.fixture
def message():
    return build_email(notice(), recipients(), SETTINGS)


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as server:
        yield server


def sendgrid_transport(host: str, timeout: float = 5.0) -> SendGridTransport:
    return SendGridTransport("SG.test-key", host, timeout=timeout, clock=lambda: NOW)


def failure(transport, message) -> SendError:
    with pytest.raises(SendError) as caught:
        transport.send(message)
    return caught.value


def test_sendgrid_accepts_a_valid_request_and_we_keep_its_message_id(sendgrid, message):
    result = sendgrid_transport(sendgrid.url).send(message)
    assert result == SendResult(provider_message_id="fake-msg-1")
    [request] = sendgrid.requests
    assert request.problems == []
    assert request.headers["Authorization"] == "Bearer SG.test-key"
    assert [p["to"][0]["email"] for p in request.body["personalizations"]] == ["noc@acme.example", "ops@acme.example"]


def test_sendgrid_429_is_retried_after_the_reset_time(sendgrid, message):
    sendgrid.rate_limit_next(reset_at=int(NOW) + 42)
    error = failure(sendgrid_transport(sendgrid.url), message)
    assert error.permanent is False
    assert error.status == 429
    assert error.retry_after == pytest.approx(42.0)


def test_sendgrid_429_without_a_reset_header_leaves_the_wait_to_backoff(sendgrid, message):
    sendgrid.answer_next(429)
    error = failure(sendgrid_transport(sendgrid.url), message)
    assert (error.permanent, error.retry_after) == (False, None)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_sendgrid_server_errors_are_retryable(sendgrid, message, status):
    sendgrid.answer_next(status)
    error = failure(sendgrid_transport(sendgrid.url), message)
    assert (error.permanent, error.status) == (False, status)


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_sendgrid_client_errors_are_permanent(sendgrid, message, status):
    sendgrid.answer_next(status, body={"errors": [{"field": "from.email", "message": "not verified"}]})
    error = failure(sendgrid_transport(sendgrid.url), message)
    assert (error.permanent, error.status) == (True, status)
    assert "from.email: not verified" in str(error)


def test_sendgrid_answers_again_after_scripted_failures(sendgrid, message):
    sendgrid.answer_next(500, times=2)
    transport = sendgrid_transport(sendgrid.url)
    for _ in range(2):
        assert failure(transport, message).permanent is False
    assert transport.send(message).provider_message_id == "fake-msg-1"
    assert len(sendgrid.requests) == 3 and sendgrid.problems == []


def test_sendgrid_unreachable_is_retryable(message):
    error = failure(sendgrid_transport(f"http://127.0.0.1:{free_port()}"), message)
    assert (error.permanent, error.outage, error.unknown) == (False, True, False)


def test_sendgrid_calls_time_out_and_an_unanswered_request_is_an_unknown_outcome(message):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        host, port = silent.getsockname()
        error = failure(sendgrid_transport(f"http://{host}:{port}", timeout=0.3), message)
    assert (error.permanent, error.unknown) == (False, True)


def test_sendgrid_refuses_more_than_1000_recipients_without_calling(sendgrid):
    many = [Recipient(i, f"c{i}@acme.example", "", f"t{i}") for i in range(1001)]
    error = failure(sendgrid_transport(sendgrid.url), build_email(notice(), many, SETTINGS))
    assert error.permanent is True
    assert sendgrid.requests == []


def test_smtp_delivers_one_copy_per_recipient(message):
    with SmtpServer() as server:
        assert SmtpTransport(server.host, server.port, timeout=5).send(message) == SendResult(None)
    assert [m.rcpt_tos for m in server.messages] == [["noc@acme.example"], ["ops@acme.example"]]
    received = server.messages[0].parsed()
    assert received["Message-ID"] == "<notice-7.11@example.net>"
    assert received["References"] == "<gcr-1001.acme-001@example.net>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "GCR-1001" in received["Subject"]
    assert [p.get_content_type() for p in received.walk()][2:] == ["text/plain", "text/html", "text/calendar"]
    attachment = next(received.iter_attachments())
    assert attachment.get_payload(decode=True) == message.ics


@pytest.mark.parametrize("reply, permanent", [("550 5.1.1 No such user", True), ("451 4.3.0 Try later", False)])
def test_smtp_refusals_are_sorted_by_reply_code(message, reply, permanent):
    with SmtpServer() as server:
        server.refuse_recipients(reply)
        error = failure(SmtpTransport(server.host, server.port, timeout=5), message)
    assert error.permanent is permanent


@pytest.mark.parametrize("options", [{"starttls": True}, {"username": "apikey", "password": "secret"}])
def test_smtp_features_the_server_lacks_fail_permanently(message, options):
    with SmtpServer() as server:
        error = failure(SmtpTransport(server.host, server.port, timeout=5, **options), message)
    assert error.permanent is True
    assert server.messages == []


def test_smtp_unreachable_is_retryable(message):
    assert failure(SmtpTransport("127.0.0.1", free_port(), timeout=2), message).permanent is False


def test_the_file_transport_writes_one_parseable_eml_per_recipient(tmp_path, message):
    transport = FileTransport(tmp_path / "outbox")
    transport.send(message)
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == ["notice-7-contact-11.eml", "notice-7-contact-12.eml"]
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["To"] == "Acme NOC <noc@acme.example>"
    assert next(parsed.iter_attachments()).get_payload(decode=True) == message.ics


def test_a_resend_by_the_file_transport_is_a_second_file_and_overwrites_nothing(tmp_path, message):
    outbox = tmp_path / "outbox"
    FileTransport(outbox).send(message)
    first = {f.name: f.read_bytes() for f in outbox.iterdir()}
    FileTransport(outbox).send(message)  # the worker's next attempt, or another worker
    FileTransport(outbox).send(message)
    files = {f.name: f.read_bytes() for f in outbox.iterdir()}
    assert sorted(files) == [
        "notice-7-contact-11-2.eml",
        "notice-7-contact-11-3.eml",
        "notice-7-contact-11.eml",
        "notice-7-contact-12-2.eml",
        "notice-7-contact-12-3.eml",
        "notice-7-contact-12.eml",
    ]
    assert {name: files[name] for name in first} == first
    for data in files.values():
        assert email.message_from_bytes(data, policy=policy.default)["To"].addresses[0].addr_spec in (
            "noc@acme.example",
            "ops@acme.example",
        )


def test_the_outbox_is_private_to_its_owner_even_when_it_was_made_looser(tmp_path, message):
    outbox = tmp_path / "var" / "outbox"
    outbox.mkdir(parents=True, mode=0o755)
    outbox.chmod(0o755)
    earlier = outbox / "notice-1-contact-1.eml"
    earlier.write_bytes(b"Subject: earlier\r\n\r\nbody\r\n")
    earlier.chmod(0o644)
    transport = FileTransport(outbox)
    assert (outbox.stat().st_mode & 0o777, earlier.stat().st_mode & 0o777) == (0o700, 0o600)
    transport.send(message)
    assert {f.name: f.stat().st_mode & 0o777 for f in outbox.iterdir()} == {
        "notice-1-contact-1.eml": 0o600,
        "notice-7-contact-11.eml": 0o600,
        "notice-7-contact-12.eml": 0o600,
    }


def test_a_new_outbox_is_made_private(tmp_path, message):
    FileTransport(tmp_path / "var" / "outbox").send(message)
    assert (tmp_path / "var" / "outbox").stat().st_mode & 0o777 == 0o700


def test_the_memory_transport_records_and_can_fail_on_demand(message):
    transport = InMemoryTransport()
    transport.fail_next(SendError("boom", permanent=False))
    assert failure(transport, message).permanent is False
    transport.send(message)
    assert transport.sent == [message]
    assert [e["To"] for e in transport.emails] == ["Acme NOC <noc@acme.example>", "Pat Ops <ops@acme.example>"]


@pytest.mark.parametrize(
    "backend, kind", [("file", FileTransport), ("sendgrid", SendGridTransport), ("smtp", SmtpTransport)]
)
def test_the_backend_is_chosen_by_config(tmp_path, backend, kind):
    settings = load_settings({"CHANGEMGMT_HOME": str(tmp_path), "EMAIL_BACKEND": backend, "SENDGRID_API_KEY": "SG.x"})
    assert isinstance(make_transport(settings), kind)


def test_sendgrid_needs_a_key():
    with pytest.raises(ValueError, match="SENDGRID_API_KEY"):
        make_transport(load_settings({"EMAIL_BACKEND": "sendgrid"}))


@pytest.fixture(params=["memory", "file", "smtp", "sendgrid"])
def transport_and_inbox(request, tmp_path):
    """Each transport with a way to list the addresses its copies reached."""
    if request.param == "memory":
        memory = InMemoryTransport()
        yield memory, lambda: [e["To"].addresses[0].addr_spec for e in memory.emails]
    elif request.param == "file":
        folder = tmp_path / "outbox"
        yield (
            FileTransport(folder),
            lambda: [
                email.message_from_bytes(f.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec
                for f in sorted(folder.glob("*.eml"))
            ],
        )
    elif request.param == "smtp":
        with SmtpServer() as server:
            yield SmtpTransport(server.host, server.port, timeout=5), lambda: [m.rcpt_tos[0] for m in server.messages]
    else:
        with FakeSendGrid() as fake:
            yield (
                sendgrid_transport(fake.url),
                lambda: [p["to"][0]["email"] for r in fake.requests for p in r.body["personalizations"]],
            )


def test_every_transport_reaches_each_recipient_once(transport_and_inbox, message):
    transport, inbox = transport_and_inbox
    assert isinstance(transport.send(message), SendResult)
    assert inbox() == ["noc@acme.example", "ops@acme.example"]


def test_sendgrid_requests_share_one_kept_alive_connection(sendgrid_server_for_keepalive):
    fake, transport = sendgrid_server_for_keepalive
    for _ in range(5):
        transport.send(build_email(notice(), recipients(), load_settings({})))
    assert len(fake.requests) == 5 and fake.problems == []
    assert len(fake.connections) == 1


def test_a_connection_the_server_closed_while_idle_is_reopened_before_anything_is_sent(sendgrid_server_for_keepalive):
    fake, transport = sendgrid_server_for_keepalive
    message = build_email(notice(), recipients(), load_settings({}))
    transport.send(message)
    fake.hang_up_after_next = True
    transport.send(message)
    eventually(lambda: not fake._open)  # the server has closed it, as an idle timeout would
    assert transport.send(message).provider_message_id == "fake-msg-3"
    assert len(fake.requests) == 3 and len(fake.connections) == 2


def test_a_request_the_server_took_without_answering_is_an_unknown_outcome_and_never_sent_again(
    sendgrid_server_for_keepalive,
):
    fake, transport = sendgrid_server_for_keepalive
    message = build_email(notice(), recipients(), load_settings({}))
    transport.send(message)  # a kept-alive connection, then dropped after the next request is read
    fake.hang_up_next()
    error = failure(transport, message)
    assert (error.unknown, error.outage, error.permanent) == (True, True, False)
    assert "may have been taken" in str(error)
    assert len(fake.requests) == 2 and len(fake.accepted) == 4  # the transport did not send it again
    assert transport.send(message).provider_message_id == "fake-msg-3"


def test_sendgrid_down_is_an_outage_where_nothing_was_sent(sendgrid, message):
    transport = sendgrid_transport(sendgrid.url)
    transport.send(message)
    sendgrid.go_down()
    error = failure(transport, message)
    assert (error.outage, error.unknown, error.permanent) == (True, False, False)
    sendgrid.come_up()
    assert transport.send(message).provider_message_id == "fake-msg-2"
    assert len(sendgrid.requests) == 2


def test_sendgrid_refusing_one_recipient_refuses_it_alone_and_the_rest_may_go_at_once(sendgrid, message):
    sendgrid.refuse_address("ops@acme.example")
    error = failure(sendgrid_transport(sendgrid.url), message)
    assert error.refused == {12: "SendGrid refused ops@acme.example: Does not contain a valid address."}
    assert (error.permanent, error.retry_after, error.outage) == (False, 0.0, False)
    assert sendgrid.accepted == []


def test_sendgrid_refusing_every_recipient_fails_the_message(sendgrid, message):
    sendgrid.refuse_address("ops@acme.example")
    sendgrid.refuse_address("noc@acme.example")
    error = failure(sendgrid_transport(sendgrid.url), message)
    assert error.permanent is True and set(error.refused) == {11, 12}


def test_smtp_refusing_one_recipient_refuses_it_alone(message):
    with SmtpServer() as server:
        server.refuse_recipients("550 5.1.1 No such user", only="ops@acme.example")
        result = SmtpTransport(server.host, server.port, timeout=5).send(message)
    assert [m.rcpt_tos for m in server.messages] == [["noc@acme.example"]]
    assert result.refused == {12: "SMTP server refused ops@acme.example: 550 5.1.1 No such user"}


def test_an_address_no_header_can_carry_is_left_out_of_the_message_with_its_reason():
    many = [*recipients(), Recipient(13, "jos\u00e9@acme.example", "José", "t13")]
    message = build_email(notice(), many, SETTINGS)
    assert [r.contact_id for r in message.recipients] == [11, 12]
    assert "is not an ASCII email address" in message.refused[13]


@pytest.fixture
def sendgrid_server_for_keepalive():
    with FakeSendGrid() as fake:
        yield fake, SendGridTransport("SG.test-key", fake.url, timeout=5)
