"""Throttled sign-in (STANDARDS: slow down password guessing without letting anyone lock
a user out for long): a pure decision over the recent failed attempts and `now`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SignInLimits:
    window: timedelta = timedelta(minutes=15)
    per_email: int = 5  # failures for one address in `window`
    per_address: int = 30  # failures from one client address in `window`


def wait_before_next(
    email_failures: Sequence[datetime], address_failures: Sequence[datetime], now: datetime, limits: SignInLimits
) -> timedelta:
    """How long until another attempt may be tried (zero: now). The failures are those
    since `now - limits.window`; once `per_email` (or `per_address`) of them are there,
    the next waits until the oldest that counts leaves the window."""
    wait = timedelta(0)
    for failures, limit in ((email_failures, limits.per_email), (address_failures, limits.per_address)):
        recent = sorted(at for at in failures if at > now - limits.window)
        if len(recent) >= limit:
            wait = max(wait, recent[-limit] + limits.window - now)
    return wait
