"""The worker's round, shared by `changemgmt worker` and `changemgmt serve`: plan what
fell due, send what is due, rewrite the feeds that changed. Until the clock process
exists, every worker does the clock's planning too; each step is idempotent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.delivery.worker import Worker
from changemgmt.feeds.publisher import rebuild_dirty
from changemgmt.jobs.tick import tick


def work_round(sessions: sessionmaker[Session], worker: Worker, settings: Settings, now: datetime) -> int:
    """One round; returns how many deliveries it handled."""
    tick(sessions, settings, now)
    handled = worker.drain()
    rebuild_dirty(sessions, settings, now)
    return handled


def run_rounds(
    sessions: sessionmaker[Session],
    worker: Worker,
    settings: Settings,
    clock: Callable[[], datetime],
    stop: threading.Event,
    idle: float,
    report: Callable[[int], None],
) -> None:
    """Rounds until `stop` is set, waiting `idle` seconds after a round that found nothing."""
    while not stop.is_set():
        handled = work_round(sessions, worker, settings, clock())
        if handled:
            report(handled)
        else:
            stop.wait(idle)
