"""A blocking computation run off the event loop, at most once per `ttl` seconds, for
/readyz and /metrics: many requests at once share one run (in a worker thread) and its
answer, so a flood of probes or scrapes costs the database one query set per `ttl`, and
the loop keeps serving feeds while the database takes its time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CachedInThread(Generic[T]):
    def __init__(self, compute: Callable[[], T], ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.compute, self.ttl, self.clock = compute, ttl, clock
        self._value: T | None = None
        self._at = float("-inf")
        self._running: asyncio.Future[T] | None = None

    async def get(self, timeout: float | None = None) -> T:
        """The last answer if it is younger than `ttl`, else the answer of the run in
        progress (started now if none is). Raises TimeoutError after `timeout` seconds;
        the run goes on, and later callers wait for it rather than start another."""
        if self._value is not None and self.clock() - self._at < self.ttl:
            return self._value
        if self._running is None:
            self._running = asyncio.ensure_future(asyncio.to_thread(self.compute))
            self._running.add_done_callback(self._keep)
        return await asyncio.wait_for(asyncio.shield(self._running), timeout)

    def _keep(self, done: asyncio.Future[T]) -> None:
        self._running = None
        if not done.cancelled() and done.exception() is None:
            self._value, self._at = done.result(), self.clock()
