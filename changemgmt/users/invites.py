"""Invitations: a signed link, valid for a while, with which a user sets its password.
The link names the user and its session epoch, which setting a password bumps, so a link
works once; users.invitations sends it by email through the configured transport."""

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
