"""When to try a failed delivery again: capped exponential backoff with full jitter,
and the provider's own word (a 429's reset time) when it gives one (STANDARDS C29, E13).
A delivery is given up on only for a permanent error, or once its time budget
(DELIVERY_GIVE_UP_AFTER) since its first try has run out: an outage, however many tries
it meets, is not a failure (docs/delivery.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

BASE = timedelta(seconds=30)
CAP = timedelta(hours=1)
# A send whose answer never came may have been taken: the retry waits at least this long,
# so the provider's events for it (which settle its recipients) can arrive first.
UNKNOWN_SETTLE = timedelta(minutes=2)


def retry_delay(attempt: int, jitter: float, retry_after: float | None = None, unknown: bool = False) -> timedelta:
    """The wait before attempt `attempt + 1`, for `jitter` drawn uniformly from [0, 1).

    Full jitter: a uniform draw from zero to the exponential ceiling, so that many
    workers failing together do not retry together. A provider's retry-after is the
    wait itself (a 429 names when the limit resets; waiting longer gains nothing, and the
    429 does not grow the backoff)."""
    if retry_after is not None:
        return timedelta(seconds=max(0.0, retry_after))
    growth: int = 2 ** max(0, attempt - 1)  # int ** int is typed Any: it may be a float
    ceiling = min(CAP, BASE * growth)
    delay = ceiling * jitter
    return max(delay, UNKNOWN_SETTLE) if unknown else delay


def gives_up(permanent: bool, first_try: datetime | None, now: datetime, give_up_after: timedelta) -> bool:
    """True when the delivery is failed for good after this attempt: a permanent error,
    or tries since `first_try` for longer than `give_up_after`."""
    if permanent:
        return True
    return first_try is not None and now - first_try >= give_up_after
