"""Change-management rules that depend on `now`: minimum notice (SPEC §3.1, §8)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from changemgmt.domain.errors import DomainError
from changemgmt.domain.windows import Window


def _describe(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 0:
        return "is already in the past"
    if hours < 48:
        return f"starts in {hours:.0f} h"
    return f"starts in {hours / 24:.1f} days"


def check_minimum_notice(
    windows: Iterable[Window],
    *,
    now: datetime,
    minimum: timedelta,
    emergency: bool,
    override_reason: str | None,
) -> None:
    """Refuses windows that start less than `minimum` from `now`, unless the GCR is an
    emergency or the change manager gave a reason to override."""
    if emergency or (override_reason and override_reason.strip()):
        return
    for window in sorted(windows, key=lambda w: w.start):
        if window.start - now < minimum:
            days = minimum.total_seconds() / 86400
            raise DomainError(
                f"windows[{window.number}].start",
                f"{_describe(window.start - now)}, less than the minimum notice of {days:g} days; "
                "mark the GCR as an emergency or give an override reason",
            )


def needs_emergency_notice(windows: Iterable[Window], *, now: datetime, minimum: timedelta, emergency: bool) -> bool:
    """True when customers must get an `emergency` notice rather than `new`."""
    return emergency or any(w.start - now < minimum for w in windows)
