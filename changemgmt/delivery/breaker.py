"""The circuit breaker: when the provider fails as a whole (unreachable, 5xx, 429, no
answer), sending pauses and one probe tests it, instead of every delivery burning its
tries on an outage (docs/delivery.md).

- closed: sends go. `threshold` outage errors in a row (from any deliveries) open it; a
  429 with a reset time opens it until that time at once (the limit is the account's);
- open until `resume_at`: nothing is sent; a message offered is held back untried
  (SendError(tried=False)), to be due again at `resume_at`, its attempt not used;
- at `resume_at`, half-open: the next send is the probe, and the other send threads wait
  for its answer (at most `probe_wait` seconds). A probe the provider answers (even with
  a 4xx: it is up) closes the breaker; an outage error opens it again for twice as long,
  up to `max_pause`.

Time is the worker's injected clock; the wait for a probe is real (it is the probe's own
request)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from changemgmt.delivery.message import OutgoingMessage
from changemgmt.delivery.transports.base import SendError, SendResult, Transport

log = logging.getLogger(__name__)

FIRST_PAUSE = timedelta(seconds=5)


@dataclass
class Breaker:
    threshold: int = 3
    max_pause: timedelta = timedelta(minutes=5)
    first_pause: timedelta = FIRST_PAUSE
    probe_wait: float = 30.0  # real seconds a send waits for the probe's answer
    failures: int = 0  # outage errors in a row
    pause: timedelta = FIRST_PAUSE  # the next pause
    resume_at: datetime | None = None  # None: closed
    probing: bool = False
    trips: int = 0  # times it opened (for tests and logs)
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def paused(self, now: datetime) -> bool:
        """True while sending is paused (open, before its resume time)."""
        with self._lock:
            return self.resume_at is not None and now < self.resume_at

    def admit(self, now: datetime) -> datetime | None:
        """None when a send may go now (closed, or as the probe, or after the probe
        succeeded); else when to try again."""
        with self._lock:
            while True:
                if self.resume_at is None:
                    return None
                if now < self.resume_at:
                    return self.resume_at
                if not self.probing:
                    self.probing = True
                    return None
                if not self._lock.wait(self.probe_wait):  # the probe is still out: try later
                    return now + self.first_pause

    def succeeded(self) -> None:
        """The provider answered: it is up."""
        with self._lock:
            if self.resume_at is not None:
                log.info("the provider answers again: sending resumes", extra={"event": "breaker_closed"})
            self.failures, self.pause, self.resume_at, self.probing = 0, self.first_pause, None, False
            self._lock.notify_all()

    def failed(self, error: SendError, now: datetime) -> None:
        """A send failed with `error`: counts it when it is the provider's as a whole."""
        if not error.outage:
            self.succeeded()
            return
        with self._lock:
            self.failures += 1
            rate_limited = error.retry_after is not None and error.retry_after > 0
            if self.probing or rate_limited or (self.resume_at is None and self.failures >= self.threshold):
                self._open(error, now)
            self._lock.notify_all()

    def _open(self, error: SendError, now: datetime) -> None:
        pause = self.pause
        if error.retry_after is not None:
            pause = max(pause, timedelta(seconds=error.retry_after))
        resume = now + pause
        if self.resume_at is None or resume > self.resume_at:
            self.resume_at = resume
        self.pause = min(self.max_pause, self.pause * 2)
        self.probing = False
        self.trips += 1
        log.warning(
            "the provider is failing (%s): sending paused until %s",
            error,
            self.resume_at.isoformat(),
            extra={"event": "breaker_open", "resume_at": self.resume_at.isoformat(), "error": str(error)},
        )


class GuardedTransport:
    """A transport behind a breaker: a message offered while sending is paused is held
    back untried; every answer (or failure) of the provider goes to the breaker."""

    def __init__(self, transport: Transport, breaker: Breaker, clock: Callable[[], datetime]) -> None:
        self.transport, self.breaker, self.clock = transport, breaker, clock
        self.name = transport.name

    def send(self, message: OutgoingMessage) -> SendResult:
        now = self.clock()
        resume = self.breaker.admit(now)
        if resume is not None:
            raise SendError(
                "not sent: sending is paused while the provider fails",
                permanent=False,
                tried=False,
                retry_after=max(0.0, (resume - now).total_seconds()),
            )
        try:
            result = self.transport.send(message)
        except SendError as error:
            self.breaker.failed(error, self.clock())
            raise
        except Exception:
            self.breaker.succeeded()  # not the provider's doing: let the others go
            raise
        self.breaker.succeeded()
        return result
