"""A transactional email to one person (an invitation to sign in): a rendered triple and
an address, sent through the configured transport's `send_mail`. Unlike a notice it has
no attachment, no unsubscribe headers and no thread: it is the person's own message."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from changemgmt.config import Settings
from changemgmt.delivery import headers
from changemgmt.delivery.headers import header_safe
from changemgmt.delivery.message import sender_address, split_address
from changemgmt.domain.timefmt import require_aware


@dataclass(frozen=True)
class Mail:
    """`key` names the message: its outbox file, its Message-ID (`<key@domain>`)."""

    key: str
    to: str
    subject: str
    text: str
    html: str
    mail_from: str
    reply_to: str
    date: datetime
    provider_domain: str

    @classmethod
    def of(cls, settings: Settings, key: str, to: str, subject: str, text: str, html: str, date: datetime) -> Mail:
        return cls(
            key,
            to,
            subject,
            text,
            html,
            header_safe(settings.mail_from),
            header_safe(settings.reply_to),
            date,
            settings.provider_domain,
        )

    @property
    def envelope_from(self) -> str:
        return split_address(self.mail_from)[1]

    @property
    def message_id(self) -> str:
        return f"<{self.key}@{self.provider_domain}>"

    def email(self) -> EmailMessage:
        """multipart/alternative (text, html), every header written by delivery.headers."""
        msg = EmailMessage(policy=policy.SMTP)
        date = format_datetime(require_aware(self.date, "Date").astimezone(UTC))
        for header in (
            headers.mailbox("From", *split_address(self.mail_from)),
            headers.mailbox("To", "", self.to),
            headers.mailbox("Reply-To", *split_address(self.reply_to)),
            headers.unstructured("Subject", self.subject),
            headers.token("Date", date),
            headers.token("Message-ID", self.message_id),
            headers.token("Auto-Submitted", "auto-generated"),
        ):
            msg[header.name] = header
        msg.set_content(self.text, cte="quoted-printable")
        msg.add_alternative(self.html, subtype="html", cte="quoted-printable")
        seed = hashlib.sha256(self.message_id.encode()).hexdigest()[:24]
        msg.set_boundary(f"=_{seed}.0")  # the same mail, byte for byte, from the same input
        return msg

    def sendgrid_body(self) -> dict:
        """One POST /v3/mail/send body for the one recipient."""
        return {
            "personalizations": [{"to": [{"email": self.to.strip()}], "custom_args": {"mail": self.key}}],
            "from": sender_address(self.mail_from),
            "reply_to": sender_address(self.reply_to),
            "subject": header_safe(self.subject).replace("=?", "= ?"),
            "content": [{"type": "text/plain", "value": self.text}, {"type": "text/html", "value": self.html}],
            "headers": {"Auto-Submitted": "auto-generated"},
        }
