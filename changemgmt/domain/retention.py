"""How long past maintenance stays in the calendar feeds (SPEC §3.1, Retention)."""

from __future__ import annotations

from datetime import datetime, timedelta


def retention_cutoff(now: datetime, days: int) -> datetime:
    """The moment before which ended events age out, for a retention of `days` days."""
    return now - timedelta(days=days)


def kept(end: datetime, cancelled: bool, modified: datetime, cutoff: datetime) -> bool:
    """An event stays until N days after its window's end; a cancelled one until N days
    after the later of its cancellation and its window's end."""
    return end >= cutoff or (cancelled and modified >= cutoff)
