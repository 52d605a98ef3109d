"""A transport that keeps what it was given: the test double of the real ones."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

from changemgmt.delivery.mail import Mail
from changemgmt.delivery.message import OutgoingMessage
from changemgmt.delivery.transports.base import SendError, SendResult


class InMemoryTransport:
    name = "memory"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.mails: list[Mail] = []
        self._failures: list[SendError] = []

    def fail_next(self, *errors: SendError) -> None:
        """The next sends raise these errors, one per call, in order."""
        self._failures.extend(errors)

    def send(self, message: OutgoingMessage) -> SendResult:
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(message)
        return SendResult(provider_message_id=f"memory-{len(self.sent)}")

    def send_mail(self, mail: Mail) -> SendResult:
        if self._failures:
            raise self._failures.pop(0)
        self.mails.append(mail)
        return SendResult(provider_message_id=f"memory-mail-{len(self.mails)}")

    @property
    def emails(self) -> list[EmailMessage]:
        """Every recipient's copy of every message sent, in order, as a receiver parses its bytes."""
        return [
            email.message_from_bytes(m.email_for(r).as_bytes(), policy=policy.default)
            for m in self.sent
            for r in m.recipients
        ]
