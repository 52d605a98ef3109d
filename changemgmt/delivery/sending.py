"""The worker's send threads: daemon threads taking calls from a queue. Not a
ThreadPoolExecutor: the interpreter waits for those at exit, and a send hanging on the
network past the grace period must not keep a stopping worker alive."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class SendThreads:
    def __init__(self, count: int) -> None:
        self._calls: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"send-{n}", daemon=True) for n in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, call: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._calls.put((future, call, args))
        return future

    def close(self, timeout: float) -> None:
        """Ends the threads once the calls queued are done, waiting `timeout` at most in
        all (a thread still in a send is left to end with the process)."""
        for _ in self._threads:
            self._calls.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    @property
    def busy(self) -> bool:
        """True while a thread is still in a call (after `close`: one that hangs)."""
        return any(thread.is_alive() for thread in self._threads)

    def _run(self) -> None:
        while (item := self._calls.get()) is not None:
            future, call, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)
