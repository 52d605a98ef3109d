"""The worker's loop, shared by `changemgmt worker` and `changemgmt serve`: it only
delivers (the clock plans what falls due and rewrites the feeds). A round that fails (the
database away a moment) is logged, and the loop goes on after a pause: the worker never
exits for a database error (the outcomes it holds are written when the database is back).
Setting `stop` ends it within the worker's grace period (Worker.drain)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.delivery.worker import Worker
from changemgmt.feeds.publisher import rebuild_dirty
from changemgmt.jobs.heartbeat import Heartbeat
from changemgmt.jobs.tick import tick

log = logging.getLogger(__name__)

DELIVERING = "deliver"


def run_rounds(
    worker: Worker,
    stop: threading.Event,
    idle: float,
    report: Callable[[int], None],
    heartbeat: Heartbeat | None = None,
) -> None:
    """Sends what is due until `stop` is set, waiting after a round that found nothing
    (or failed) `idle` seconds, or less when a delivery falls due sooner."""
    name = heartbeat.id if heartbeat is not None else worker.name
    log.info("worker %s: started", name)
    failing = False
    while not stop.is_set():
        if heartbeat is not None:
            heartbeat.doing(DELIVERING)
        try:
            handled = worker.drain(stop)
            if failing:
                log.info("worker %s: rounds work again", name, extra={"event": "worker_rounds_resumed"})
            failing = False
        except Exception as exc:  # noqa: BLE001 - one failed round must not end the worker
            # The first failure is news, with its traceback; the ones after it, until a round works, are not.
            level = logging.DEBUG if failing else logging.ERROR
            log.log(
                level,
                "worker %s: a round failed (trying again every %s s): %s",
                name,
                idle,
                exc,
                exc_info=not failing,
                extra={"event": "worker_round_failed", "error": str(exc).splitlines()[0] if str(exc) else ""},
            )
            failing, handled = True, 0
        if heartbeat is not None:
            heartbeat.doing(None)
        if handled:
            report(handled)
        else:
            stop.wait(idle_pause(worker, idle))
    log.info("worker %s: stopped", name)


def idle_pause(worker: Worker, idle: float) -> float:
    """`idle` seconds, or until the next delivery falls due if that is sooner."""
    try:
        due = worker.seconds_to_next_due()
    except Exception as exc:  # noqa: BLE001 - the next round will say what is wrong
        log.debug("worker: could not read the next due moment: %s", exc)
        return idle
    return idle if due is None else min(idle, due)


def work_round(sessions: sessionmaker[Session], worker: Worker, settings: Settings, now: datetime) -> int:
    """The clock's and a worker's work at `now`, one after the other in this thread: the
    tick, the sends, the feeds. For replays that step through time (`demo`), where no
    clock process runs. Returns how many deliveries were handled."""
    tick(sessions, settings, now)
    handled = worker.drain()
    rebuild_dirty(sessions, settings, now)
    return handled
