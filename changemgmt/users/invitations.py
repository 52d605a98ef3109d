"""Sending an invitation: a link to set a password (users.invites), in an email sent
through the configured transport (delivery.mail). Nothing is lost: the invitation is in
the audit trail (action "invite", committed before the send), then its outcome
("invite_sent" or "invite_failed", with the transport's reason)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.delivery.mail import Mail
from changemgmt.delivery.render import default_template_dir
from changemgmt.delivery.transports import SendError, Transport, make_transport
from changemgmt.domain.errors import DomainError
from changemgmt.store.db import transaction
from changemgmt.store.models import User
from changemgmt.users.accounts import audit, get_user
from changemgmt.users.invites import VALID_FOR, invitation_token, invitation_url


@dataclass(frozen=True)
class Invitation:
    email: str
    url: str
    transport: str
    error: str | None  # None: the transport took the email

    @property
    def sent(self) -> bool:
        return self.error is None


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(default_template_dir() / "invitation")),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        keep_trailing_newline=True,
    )


def invitation_mail(settings: Settings, user: User, url: str, now: datetime, valid_for: timedelta = VALID_FOR) -> Mail:
    """The invitation as the user receives it (templates/email/invitation/)."""
    context = {
        "name": user.name or user.email,
        "email": user.email,
        "url": url,
        "hours": int(valid_for.total_seconds() // 3600),
        "provider_name": settings.provider_name,
        "cm_name": settings.cm_name,
        "cm_email": settings.cm_email,
        "cm_phone": settings.cm_phone,
    }
    subject, text, html = (
        _environment().get_template(n).render(context) for n in ("subject.txt", "body.txt", "body.html")
    )
    key = f"invitation-{user.id}-{user.session_epoch}-{int(now.timestamp())}"
    return Mail.of(settings, key, user.email, subject.strip(), text, html, now)


def send_invitation(
    db: sessionmaker[Session], settings: Settings, transport: Transport, email: str, actor: str, now: datetime
) -> Invitation:
    """Records, then sends, an invitation to the user `email`; returns its link and
    whether the transport took it (a failure is recorded, never raised)."""
    with transaction(db) as session:
        user = get_user(session, email)
        if user.disabled_at is not None:
            raise DomainError("email", f"{user.email} is disabled")
        url = invitation_url(settings, invitation_token(settings, user, now))
        mail = invitation_mail(settings, user, url, now)
        address = user.email
        audit(session, user, "invite", actor, now, {"transport": transport.name, "message_id": mail.message_id})
    error = None
    try:
        transport.send_mail(mail)
    except SendError as exc:
        error = str(exc)
    with transaction(db) as session:
        user = get_user(session, address)
        details = {"message_id": mail.message_id, **({"error": error[:1000]} if error else {})}
        audit(session, user, "invite_failed" if error else "invite_sent", actor, now, details)
    return Invitation(address, url, transport.name, error)


def email_invitation(
    db: sessionmaker[Session], settings: Settings, email: str, actor: str, now: datetime
) -> Invitation:
    """send_invitation through the transport EMAIL_BACKEND names, closed afterwards."""
    transport = make_transport(settings)
    try:
        return send_invitation(db, settings, transport, email, actor, now)
    finally:
        close = getattr(transport, "close", None)
        if close is not None:
            close()
