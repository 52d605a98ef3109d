"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives."""

from __future__ import annotations

import email
import logging
import socket
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

# aiosmtpd logs every connection at INFO; a client hanging up is what the tests do.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refuse_code: str | None = None
        self.refuse_only: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse_code and self.refuse_only in (None, address):
            return self.refuse_code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    # aiosmtpd's Controller connects to its own port to check it started, so it needs
    # the number up front rather than port 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """Context manager: `host`, `port`, `messages`; `refuse_recipients(code)` scripts a refusal."""

    def __init__(self) -> None:
        self._collector = _Collector()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller = Controller(self._collector, hostname=self.host, port=self.port)

    @property
    def messages(self) -> list[Received]:
        return self._collector.messages

    def refuse_recipients(self, reply: str, only: str | None = None) -> None:
        """Answer every RCPT TO (or only those to `only`) with `reply`, e.g. '550 5.1.1 No such user'."""
        self._collector.refuse_code = reply
        self._collector.refuse_only = only

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
