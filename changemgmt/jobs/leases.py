"""The clock's `leases` job: gives back the deliveries of workers whose heartbeat stopped.

A worker is judged dead when its heartbeat is older than HEARTBEAT_TIMEOUT_SECONDS, but
only by a clock that has itself had the database for that long: when the database comes
back from an outage (a restart, a failover), every heartbeat in it is old, and the live
workers need one beat to show it. So the judge waits a whole timeout after it regains the
database (a failed run, or runs further apart than the timeout, start its count again)
before it takes anything from anyone. Rows of a claimer without a heartbeat row follow
their lease (`claimed_until`) as before."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine

from changemgmt.delivery.claim import rescue_expired


class Leases:
    """Remembers since when this clock has reached the database without a break."""

    def __init__(self) -> None:
        self._since: datetime | None = None  # the first good run of the current unbroken series
        self._last: datetime | None = None  # the last good run
        self._mutex = threading.Lock()

    def rescue(self, engine: Engine, now: datetime, timeout: timedelta) -> int:
        """Gives back what dead workers held; returns how many deliveries."""
        with self._mutex:
            if self._last is None or now - self._last > timeout:
                self._since = now
            assert self._since is not None
            judging = now - self._since >= timeout
            try:
                given = rescue_expired(engine, now=now, silent_since=now - timeout if judging else None)
            except Exception:
                self._last = None
                raise
            self._last = now
            return given
