"""SMTP delivery with smtplib: one connection per message, one copy per recipient
(each copy has its own Message-ID and unsubscribe token). STARTTLS and login optional."""

from __future__ import annotations

import smtplib
import ssl

from changemgmt.delivery.message import OutgoingMessage
from changemgmt.delivery.transports.base import SendError, SendResult

DEFAULT_TIMEOUT = 30.0


class SmtpTransport:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls = starttls
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                connection.starttls(context=ssl.create_default_context())
            if self.username:
                connection.login(self.username, self.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, message: OutgoingMessage) -> SendResult:
        done: list[int] = []
        try:
            with self._connect() as connection:
                for recipient in message.recipients:
                    # The envelope names the recipient itself, never what a header parses to.
                    connection.send_message(
                        message.email_for(recipient),
                        from_addr=message.envelope_from,
                        to_addrs=[recipient.email.strip()],
                    )
                    done.append(recipient.contact_id)
        except smtplib.SMTPException as exc:
            raise smtp_error(exc, tuple(done)) from exc
        except OSError as exc:
            raise SendError(f"SMTP server unreachable: {exc}", permanent=False, sent_contact_ids=tuple(done)) from exc
        return SendResult(provider_message_id=None)


def smtp_error(exc: smtplib.SMTPException, done: tuple[int, ...]) -> SendError:
    """5xx replies are permanent, 4xx and dropped connections are worth retrying."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        code = max(codes) if codes else None
    permanent = code is not None and 500 <= code < 600
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        permanent = True
    return SendError(f"SMTP: {exc}", permanent=permanent, status=code, sent_contact_ids=done)
