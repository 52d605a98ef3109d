"""When to try a failed delivery again: capped exponential backoff with full jitter,
and the provider's own word (a 429's reset time) when it gives one (STANDARDS C29, E13)."""

from __future__ import annotations

from datetime import timedelta

BASE = timedelta(seconds=30)
CAP = timedelta(hours=1)


def retry_delay(attempt: int, jitter: float, retry_after: float | None = None) -> timedelta:
    """The wait before attempt `attempt + 1`, for `jitter` drawn uniformly from [0, 1).

    Full jitter: a uniform draw from zero to the exponential ceiling, so that many
    workers failing together do not retry together. A provider's retry-after is a floor.
    """
    growth: int = 2 ** max(0, attempt - 1)  # int ** int is typed Any: it may be a float
    ceiling = min(CAP, BASE * growth)
    delay = ceiling * jitter
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=max(0.0, retry_after)))
    return delay


def gives_up(attempt: int, max_attempts: int, permanent: bool) -> bool:
    """True when the delivery is failed for good after this attempt."""
    return permanent or attempt >= max_attempts
