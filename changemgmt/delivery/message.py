"""A notice as a message ready for any transport: rendered parts, the BCOP .ics,
headers, and per-recipient MIME (SPEC §4). Nothing here sends or reads the database."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import quote

from changemgmt.config import Settings
from changemgmt.content.ical import EventFacts, notice_calendar_bytes
from changemgmt.content.view import NoticeView, Recipient
from changemgmt.delivery import headers
from changemgmt.delivery.headers import has_encoded_word_syntax, header_safe
from changemgmt.delivery.links import NoticeLinks
from changemgmt.delivery.render import NO_LINKS, OrganisationKeys, RecipientLinks, RenderedEmail, Renderer, personalised
from changemgmt.domain.gcr import Contact
from changemgmt.domain.timefmt import require_aware


@dataclass(frozen=True)
class OutgoingMessage:
    """One notice to one customer, rendered once for all its recipients: each copy
    differs only in To, Message-ID, the unsubscribe headers, and the organisation its
    greeting names (`organisation_keys`, replaced per copy)."""

    notice_id: int
    subject: str
    text: str
    html: str
    ics: bytes
    ics_filename: str
    mail_from: str
    reply_to: str
    date: datetime
    thread_id: str  # synthetic, never-sent root Message-ID of this GCR and customer
    provider_domain: str
    base_url: str
    recipients: tuple[Recipient, ...]
    account_name: str = ""  # the notice's customer: whom a recipient without an organisation is
    organisation_keys: OrganisationKeys | None = None
    # Recipients left out because no message can be addressed to them (contact id ->
    # why): they fail alone, the others' copies go.
    refused: Mapping[int, str] = field(default_factory=dict)
    # An enterprise's feed lines, by the enterprise's customer id: for its own contacts.
    enterprise_feeds: Mapping[int, RecipientLinks] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        """Headers shared by every recipient's copy."""
        return {
            "In-Reply-To": self.thread_id,
            "References": self.thread_id,
            "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation auto-replies
        }

    @property
    def envelope_from(self) -> str:
        """The sender's address alone (the SMTP MAIL FROM)."""
        return split_address(self.mail_from)[1]

    def message_id(self, recipient: Recipient) -> str:
        return f"<notice-{self.notice_id}.{recipient.contact_id}@{self.provider_domain}>"

    def unsubscribe_uris(self, recipient: Recipient) -> tuple[str, str]:
        """The mailto and the one-click https URI of this recipient's unsubscribe (RFC 8058)."""
        token = quote(recipient.unsubscribe_token, safe="")
        return (
            f"mailto:unsubscribe@{self.provider_domain}?subject=unsubscribe-{token}",
            f"{self.base_url}/unsubscribe/{token}",
        )

    def preferences_uri(self, recipient: Recipient) -> str:
        return f"{self.base_url}/preferences/{quote(recipient.unsubscribe_token, safe='')}"

    def links(self, recipient: Recipient | None) -> RecipientLinks:
        """What the footer of this recipient's copy links to (None: a copy addressed to no one)."""
        if recipient is None:
            return NO_LINKS
        own = self.enterprise_feeds.get(recipient.customer_id) if recipient.customer_id is not None else None
        return RecipientLinks(
            self.preferences_uri(recipient),
            self.unsubscribe_uris(recipient)[1],
            own.enterprise_text if own else "",
            own.enterprise_html if own else "",
        )

    def unsubscribe_headers(self, recipient: Recipient) -> dict[str, str]:
        return {
            "List-Unsubscribe": ", ".join(f"<{uri}>" for uri in self.unsubscribe_uris(recipient)),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def substitutions(self, recipient: Recipient) -> dict[str, str]:
        """Key -> text for this recipient's copy: its own organisation, never another's."""
        if self.organisation_keys is None:
            return {}
        return self.organisation_keys.values(recipient.organisation or self.account_name, self.links(recipient))

    def rendered_for(self, recipient: Recipient | None) -> RenderedEmail:
        """Subject, text and HTML as this recipient (None: any of the customer's) reads them."""
        rendered = RenderedEmail(self.subject, self.text, self.html, self.organisation_keys)
        organisation = (recipient.organisation if recipient else "") or self.account_name
        return personalised(rendered, organisation, self.links(recipient))

    def only(self, contact_ids: Iterable[int]) -> OutgoingMessage:
        """The same message for a subset of its recipients (e.g. a retry)."""
        wanted = set(contact_ids)
        return replace(self, recipients=tuple(r for r in self.recipients if r.contact_id in wanted))

    def split(self, size: int = 1000) -> list[OutgoingMessage]:
        """Chunks of at most `size` recipients (SendGrid's personalization limit)."""
        chunks = [self.recipients[i : i + size] for i in range(0, len(self.recipients), size)]
        return [replace(self, recipients=chunk) for chunk in chunks]

    def email_for(self, recipient: Recipient | None) -> EmailMessage:
        """The complete MIME message one recipient receives; None: the message addressed to
        no one (a preview for a customer without contacts), without the headers that are a
        recipient's own (To, Message-ID, List-Unsubscribe)."""
        return mime_message(self, recipient)


def thread_id(gcr_number: str, account: str, provider_domain: str) -> str:
    """`<gcr-1001.acme-001@example.net>`: one root per GCR and customer."""
    left = re.sub(r"[^a-z0-9-]+", "-", f"gcr-{gcr_number.lower().removeprefix('gcr-')}")
    right = re.sub(r"[^a-z0-9-]+", "-", account.lower())
    return f"<{left}.{right}@{provider_domain}>"


def unique_recipients(recipients: Iterable[Recipient]) -> tuple[Recipient, ...]:
    """Drops repeated addresses (case-insensitive); SendGrid refuses a request with one."""
    seen: set[str] = set()
    kept = []
    for recipient in recipients:
        key = recipient.email.strip().lower()
        if key not in seen:
            seen.add(key)
            kept.append(recipient)
    return tuple(kept)


def addressable(recipients: Iterable[Recipient]) -> tuple[tuple[Recipient, ...], dict[int, str]]:
    """The recipients a message can be addressed to, and why each other one cannot be
    (contact id -> reason): its To header must be writable (an ASCII address, a name
    that folds), or it would fail every transport on every try."""
    kept, refused = [], {}
    for recipient in recipients:
        try:
            headers.mailbox("To", recipient.name, recipient.email)
        except ValueError as exc:
            refused[recipient.contact_id] = f"cannot address {recipient.email.strip()!r}: {exc}"
        else:
            kept.append(recipient)
    return tuple(kept), refused


def change_management(settings: Settings) -> Contact:
    return Contact(settings.cm_name, settings.cm_email, settings.cm_phone)


def build_ics(view: NoticeView, settings: Settings) -> bytes:
    """The BCOP calendar for this customer: every window, DTSTAMP = time of issue."""
    facts = EventFacts.from_view(view, fallback_organizer=change_management(settings))
    uid = f"{view.gcr_number}-{view.customer.account}@{settings.provider_domain}"
    return notice_calendar_bytes(
        facts, view.windows, uid=uid, provider_domain=settings.provider_domain, stamp=view.issued_at
    )


@lru_cache(maxsize=1)
def _default_renderer() -> Renderer:
    return Renderer()


def build_email(
    view: NoticeView,
    recipients: Iterable[Recipient],
    settings: Settings,
    renderer: Renderer | None = None,
    links: NoticeLinks | None = None,
) -> OutgoingMessage:
    """Renders the notice and its attachment once for all of the customer's recipients.
    Pass `renderer` to use operator templates (Renderer.from_settings), and `links` for the
    footer's calendar feed links (delivery.links; without them the footer has none)."""
    renderer = renderer or _default_renderer()
    links = links or NoticeLinks()
    feed = links.feed.as_dict() if links.feed else None
    rendered = renderer.render(view, provider_name=settings.provider_name, feed=feed)
    enterprise_feeds = {
        customer_id: renderer.enterprise_feed(enterprise.name, enterprise.link.as_dict())
        for customer_id, enterprise in links.enterprises.items()
    }
    kept, refused = addressable(unique_recipients(recipients))
    return OutgoingMessage(
        notice_id=view.notice_id,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        ics=build_ics(view, settings),
        ics_filename=f"{re.sub(r'[^A-Za-z0-9._-]+', '-', view.gcr_number)}.ics",
        mail_from=header_safe(settings.mail_from),
        reply_to=header_safe(settings.reply_to),
        date=view.issued_at,
        thread_id=thread_id(view.gcr_number, view.customer.account, settings.provider_domain),
        provider_domain=settings.provider_domain,
        base_url=settings.base_url.rstrip("/"),
        recipients=kept,
        account_name=view.customer.name,
        organisation_keys=rendered.keys,
        refused=refused,
        enterprise_feeds=enterprise_feeds,
    )


def _fix_boundaries(msg: EmailMessage, seed: str) -> None:
    # Random boundaries would make the same notice differ byte for byte; "=_" cannot
    # occur in quoted-printable or base64 bodies, so these never clash with content.
    for index, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_{seed}.{index}")


def mime_message(message: OutgoingMessage, recipient: Recipient | None) -> EmailMessage:
    """multipart/mixed: (multipart/alternative: text, html) + text/calendar attachment
    with no `method` parameter, as the .ics has no METHOD (STANDARDS A51). Every header
    is written by `delivery.headers`, in the exact form it goes on the wire."""
    msg = EmailMessage(policy=policy.SMTP)
    rendered = message.rendered_for(recipient)
    for header in _headers(message, recipient, rendered.subject):
        msg[header.name] = header
    msg.set_content(rendered.text, cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    msg.add_attachment(
        message.ics, maintype="text", subtype="calendar", filename=message.ics_filename, params={"charset": "utf-8"}
    )
    identity = message.message_id(recipient) if recipient else f"<notice-{message.notice_id}@{message.provider_domain}>"
    seed = hashlib.sha256(identity.encode() + message.ics).hexdigest()[:24]
    _fix_boundaries(msg, seed)
    return msg


def _headers(message: OutgoingMessage, recipient: Recipient | None, subject: str) -> list[headers.WrittenHeader]:
    sender, reply_to = split_address(message.mail_from), split_address(message.reply_to)
    date = format_datetime(require_aware(message.date, "Date").astimezone(UTC))
    # A recipient's own headers; a message addressed to no one has none of them.
    to = [headers.mailbox("To", recipient.name, recipient.email)] if recipient else []
    message_id = [headers.token("Message-ID", message.message_id(recipient))] if recipient else []
    unsubscribe = (
        [
            headers.uri_list("List-Unsubscribe", message.unsubscribe_uris(recipient)),
            headers.token("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
        if recipient
        else []
    )
    return [
        headers.mailbox("From", *sender),
        *to,
        headers.mailbox("Reply-To", *reply_to),
        headers.unstructured("Subject", subject),
        headers.token("Date", date),
        *message_id,
        *(headers.token(name, value) for name, value in message.headers.items()),
        *unsubscribe,
    ]


def split_address(raw: str) -> tuple[str, str]:
    """('Name', 'addr') from 'Name <addr>' or 'addr'; a comma in the name is kept, where
    a plain address-list parse would read two addresses."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]+)>\s*", header_safe(raw))
    if not match:
        return "", header_safe(raw)
    return match.group(1).strip('"').strip(), match.group(2).strip()


def sendgrid_name(name: str, *, recipient: bool = False) -> str:
    """A display name SendGrid can put in a header as it is. SendGrid refuses ";" and ","
    in recipient names (STANDARDS C14), and writes an ASCII name unencoded, so a name
    holding `=?` would reach readers as an encoded word they decode: such a name is left
    out (the address alone is shown)."""
    name = header_safe(re.sub(r"[;,]", " ", name) if recipient else name)
    return "" if has_encoded_word_syntax(name) else name


def sender_address(raw: str) -> dict[str, str]:
    """'Name <addr>' as SendGrid's {"email", "name"}."""
    name, email = split_address(raw)
    name = sendgrid_name(name)
    return {"email": email, "name": name} if name else {"email": email}


SENDGRID_MAX_PERSONALIZATIONS = 1000


def _personalization(message: OutgoingMessage, recipient: Recipient) -> dict:
    to = {"email": recipient.email.strip()}
    if sendgrid_name(recipient.name, recipient=True):
        to["name"] = sendgrid_name(recipient.name, recipient=True)
    custom_args = {"notice_id": str(message.notice_id), "contact_id": str(recipient.contact_id)}
    if recipient.delivery_id is not None:
        custom_args["delivery_id"] = str(recipient.delivery_id)
    personalization = {"to": [to], "headers": message.unsubscribe_headers(recipient), "custom_args": custom_args}
    substitutions = message.substitutions(recipient)
    if substitutions:  # allowed without a template_id, at most 10,000 bytes (STANDARDS C5)
        personalization["substitutions"] = substitutions
    return personalization


def sendgrid_body(message: OutgoingMessage) -> dict:
    """One POST /v3/mail/send body: one personalization per recipient, so no one sees
    another's address and each gets its own unsubscribe token. No Message-ID header:
    SendGrid sets its own (STANDARDS D17); threading rests on References."""
    if not message.recipients:
        raise ValueError("a SendGrid request needs at least one recipient")
    if len(message.recipients) > SENDGRID_MAX_PERSONALIZATIONS:
        raise ValueError(
            f"{len(message.recipients)} recipients: split() the message into requests "
            f"of at most {SENDGRID_MAX_PERSONALIZATIONS}"
        )
    if len(unique_recipients(message.recipients)) != len(message.recipients):
        raise ValueError("an address appears twice; SendGrid would refuse the request")
    return {
        "personalizations": [_personalization(message, r) for r in message.recipients],
        "from": sender_address(message.mail_from),
        "reply_to": sender_address(message.reply_to),
        # SendGrid writes an ASCII subject as it is: break what a reader would decode.
        "subject": header_safe(message.subject).replace("=?", "= ?"),
        "content": [{"type": "text/plain", "value": message.text}, {"type": "text/html", "value": message.html}],
        "attachments": [
            {
                "content": base64.b64encode(message.ics).decode("ascii"),
                "type": "text/calendar",  # no ";charset=": SendGrid refuses it (STANDARDS A54)
                "filename": message.ics_filename,
                "disposition": "attachment",
            }
        ],
        "headers": message.headers,
        "custom_args": {"notice_id": str(message.notice_id)},
    }
