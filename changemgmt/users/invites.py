"""Invitations: a signed link, valid for a while, with which a user sets its password.
The link names the user and its session epoch, which setting a password bumps, so a link
works once; it is sent by email through the configured transport."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.signing import sign, unsign
from changemgmt.store.models import User

PURPOSE = "invitation"
VALID_FOR = timedelta(days=3)


def invitation_token(settings: Settings, user: User, now: datetime, valid_for: timedelta = VALID_FOR) -> str:
    expires = int((now + valid_for).timestamp())
    return sign(settings, PURPOSE, f"{user.id}-{user.session_epoch}-{expires}")


def invitation_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/invitation/{token}"


def invited_user(session: Session, settings: Settings, token: str, now: datetime) -> User | None:
    """The user a token invites, while it is valid: signed by us, not expired, not used
    (no password set since), the user not disabled. None otherwise."""
    value = unsign(settings, PURPOSE, token)
    parts = value.split("-") if value else []
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    user_id, epoch, expires = (int(p) for p in parts)
    if now.timestamp() >= expires:
        return None
    user = session.get(User, user_id)
    if user is None or user.session_epoch != epoch or user.disabled_at is not None:
        return None
    return user


def invitation_text(settings: Settings, user: User, url: str, valid_for: timedelta = VALID_FOR) -> tuple[str, str]:
    """The invitation's subject and plain-text body."""
    hours = int(valid_for.total_seconds() // 3600)
    subject = f"Your {settings.provider_name} change-management sign-in"
    body = (
        f"Hello {user.name or user.email},\n\n"
        f"You have been given a sign-in to {settings.provider_name}'s maintenance pages.\n"
        f"Set your password here (the link works once, for {hours} hours):\n\n{url}\n\n"
        f"Your sign-in address is {user.email}.\n\n"
        f"Questions: {settings.cm_name}, {settings.cm_email}, {settings.cm_phone}\n"
    )
    return subject, body
