"""SMTP delivery with smtplib: one connection per message, one copy per recipient
(each copy has its own Message-ID and unsubscribe token). STARTTLS and login optional."""

from __future__ import annotations

import smtplib
import ssl

from changemgmt.delivery.mail import Mail
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
        refused: dict[int, str] = {}  # for good: these fail alone
        later: list[str] = []  # refused for now (4xx): tried again with the delivery
        try:
            with self._connect() as connection:
                for recipient in message.recipients:
                    address = recipient.email.strip()
                    try:
                        # The envelope names the recipient itself, never what a header parses to.
                        connection.send_message(
                            message.email_for(recipient), from_addr=message.envelope_from, to_addrs=[address]
                        )
                    except smtplib.SMTPRecipientsRefused as exc:
                        code, said = next(iter(exc.recipients.values()), (None, b""))
                        reason = f"SMTP server refused {address}: {code} {_text(said)}"
                        if code is not None and 500 <= code < 600:
                            refused[recipient.contact_id] = reason
                        else:
                            later.append(reason)
                        continue
                    done.append(recipient.contact_id)
        except smtplib.SMTPException as exc:
            raise smtp_error(exc, tuple(done), refused) from exc
        except OSError as exc:
            raise SendError(
                f"SMTP server unreachable: {exc}",
                permanent=False,
                sent_contact_ids=tuple(done),
                refused=refused,
                outage=True,
            ) from exc
        if later:
            raise SendError("; ".join(later), permanent=False, sent_contact_ids=tuple(done), refused=refused)
        if refused and not done:
            raise SendError("; ".join(refused.values()), permanent=True, refused=refused)
        return SendResult(provider_message_id=None, refused=refused)

    def send_mail(self, mail: Mail) -> SendResult:
        try:
            with self._connect() as connection:
                connection.send_message(mail.email(), from_addr=mail.envelope_from, to_addrs=[mail.to.strip()])
        except smtplib.SMTPRecipientsRefused as exc:
            code, said = next(iter(exc.recipients.values()), (None, b""))
            permanent = code is not None and 500 <= code < 600
            raise SendError(
                f"SMTP server refused {mail.to.strip()}: {code} {_text(said)}", permanent=permanent
            ) from exc
        except smtplib.SMTPException as exc:
            raise smtp_error(exc, ()) from exc
        except OSError as exc:
            raise SendError(f"SMTP server unreachable: {exc}", permanent=False, outage=True) from exc
        return SendResult(provider_message_id=None)


def _text(said: bytes | str) -> str:
    return said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)


def smtp_error(exc: smtplib.SMTPException, done: tuple[int, ...], refused: dict[int, str] | None = None) -> SendError:
    """5xx replies are permanent, 4xx and dropped connections are worth retrying; a server
    that cannot be reached or talked to (421, a dropped connection) is an outage."""
    code = getattr(exc, "smtp_code", None)
    permanent = code is not None and 500 <= code < 600
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        permanent = True
    outage = isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError) or code == 421
    return SendError(
        f"SMTP: {exc}", permanent=permanent, status=code, sent_contact_ids=done, refused=refused, outage=outage
    )
