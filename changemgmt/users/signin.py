"""Signing in with an email address and a password, throttled (domain.throttle): every
attempt is recorded, and too many failures for one address, or from one client, make the
next attempts wait."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError
from changemgmt.domain.throttle import SignInLimits, wait_before_next
from changemgmt.store.models import SignInAttempt, User
from changemgmt.users.accounts import find_user
from changemgmt.users.passwords import hash_password, needs_rehash, spend_verify_time, verify_password

LIMITS = SignInLimits()
WRONG = "That email address and password do not match an active user."


class SignInRefused(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__("password", message)


def sign_in(
    session: Session, email: str, password: str, address: str, now: datetime, limits: SignInLimits = LIMITS
) -> User:
    """The user whose address and password these are; SignInRefused otherwise, with one
    message for an unknown address, a wrong password and a disabled user alike."""
    email = email.strip().lower()[:254]
    address = address[:64]
    wait = wait_before_next(
        _failures(session, SignInAttempt.email, email, now, limits),
        _failures(session, SignInAttempt.address, address, now, limits),
        now,
        limits,
    )
    if wait.total_seconds() > 0:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        raise SignInRefused(f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.")
    user = find_user(session, email)
    if user is None:
        spend_verify_time(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.disabled_at is None
    session.add(SignInAttempt(email=email, address=address, at=now, succeeded=ok))
    if not ok or user is None:
        raise SignInRefused(WRONG)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _failures(session: Session, column, value: str, now: datetime, limits: SignInLimits) -> list[datetime]:
    return list(
        session.scalars(
            select(SignInAttempt.at).where(
                column == value, SignInAttempt.succeeded.is_(False), SignInAttempt.at > now - limits.window
            )
        )
    )


def prune_attempts(session: Session, now: datetime, limits: SignInLimits = LIMITS) -> int:
    """Forgets attempts too old to count; returns how many."""
    result = session.execute(delete(SignInAttempt).where(SignInAttempt.at <= now - limits.window))
    return getattr(result, "rowcount", 0) or 0
