"""Change-management rules that depend on `now`: windows are not set in the past, and
minimum notice (SPEC §3.1, §8)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from changemgmt.domain.errors import DomainError, Problems
from changemgmt.domain.text import one_line
from changemgmt.domain.windows import Window

OVERRIDE_REASON_MAX = 500


def _utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def check_windows_ahead(before: Iterable[Window], after: Iterable[Window], now: datetime) -> None:
    """Refuses, every one at once, the windows a change sets in the past: a new or moved
    window (its start changed) that starts before `now`, and a window whose end alone
    moved to before `now`. A window the change leaves as it was is never refused, so a
    GCR in progress, or a draft whose window went by, can still be edited."""
    old = {window.number: window for window in before}
    problems = Problems()
    for window in sorted(after, key=lambda w: w.number):
        was = old.get(window.number)
        if (was is None or window.start != was.start) and window.start < now:
            problems.add(
                f"windows[{window.number}].start",
                f"{_utc(window.start)} is already past (it is now {_utc(now)}): a new or moved window "
                "must start from now on; check its date, time and time zone or UTC offset",
            )
        elif was is not None and window.end != was.end and window.end <= now:
            problems.add(
                f"windows[{window.number}].end",
                f"{_utc(window.end)} is already past (it is now {_utc(now)}): a window can only be made "
                "to end from now on; to end the work now, complete the GCR",
            )
    problems.raise_any()


def check_override_reason(reason: object) -> str | None:
    """The reason given to override the minimum notice: one line of at most
    OVERRIDE_REASON_MAX characters, or None when none was given."""
    return one_line(reason, "override_reason", OVERRIDE_REASON_MAX) or None


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


def check_cancel_reason(reason: object) -> str:
    """Why a GCR is cancelled, which the API and the pages require (customers are told)."""
    if not (isinstance(reason, str) and reason.strip()):
        raise DomainError("reason", "is required to cancel a GCR: say why")
    return reason
