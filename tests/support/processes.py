"""Real `changemgmt` processes in tests: started as an operator would start them, watched
through the database (heartbeats, clock job runs, the outbox), stopped or killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent.parent
T = TypeVar("T")


def process_env(env: dict[str, str], **more: str) -> dict[str, str]:
    """The environment of a changemgmt process: the test's settings over the machine's."""
    return {**os.environ, **env, "PYTHONUNBUFFERED": "1", **more}


def start(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen:
    """`changemgmt ARGS` in a process of its own, its output in `log` (or discarded)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child holds it
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "changemgmt", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    finally:
        if log:
            out.close()


def wait_for(check: Callable[[], T], timeout: float, what: str, step: float = 0.1) -> T:
    """The first true value `check` returns within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(step)


def stop(process: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM, then the exit status (SIGKILL if it does not stop in time)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@contextmanager
def stopped_after() -> Iterator[list[subprocess.Popen]]:
    """Yields a list to put processes in; stops every one still running at the end."""
    processes: list[subprocess.Popen] = []
    try:
        yield processes
    finally:
        for process in processes:
            stop(process)
