"""Waiting for another thread or process to get somewhere: the condition is polled until
it holds or the time is up. Time in the code under test is still injected; this only
bounds how long a test waits for a thread to act on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 10.0, every: float = 0.01) -> T:
    """The first truthy value `probe()` returns; fails the test if none comes in time."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        time.sleep(every)
