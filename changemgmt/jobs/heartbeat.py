"""A process's heartbeat: its row in `processes`, written at its start, every `interval`
seconds while it lives (with the job it is doing and whether it leads), and at its stop.
`changemgmt status`, /readyz and /metrics read these rows, so a process that dies or
stalls shows within an interval: its `beat_at` stops moving.

The beats run on a daemon thread of their own. A beat that fails (the database is down,
a lock wait timed out) is logged and tried again at the next interval: the thread never
dies of it, and the row is written again whole if it went missing meanwhile."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, insert, update

from changemgmt.store.models import Process

log = logging.getLogger(__name__)

PROCESSES = Process.__table__


def _length(column: str) -> int:
    """The length of one of the table's String columns."""
    length = getattr(PROCESSES.c[column].type, "length", None)
    assert isinstance(length, int)
    return length


_ID_MAX, _HOST_MAX, _JOB_MAX = _length("id"), _length("host"), _length("current_job")


class Heartbeat:
    """`start()` it once; `doing()` and `set_leader()` as things change; `stop()` at the end."""

    def __init__(self, engine: Engine, kind: str, clock: Callable[[], datetime], interval: float = 5.0) -> None:
        self.engine, self.kind, self.clock, self.interval = engine, kind, clock, interval
        self.host = socket.gethostname()[:_HOST_MAX]
        self.pid = os.getpid()
        self.started_at = clock()
        self.id = process_id(kind, self.host, self.pid, self.started_at)
        self._job: str | None = None
        self._leader = False
        self._failing = False  # the last beat failed: the next good one says so
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Writes the row (a database error here is the caller's: the process cannot
        work without its database), then beats on a daemon thread. A row of the same id
        can only be a dead process's (same host, pid and second): it is replaced."""
        self._write(self._row(self.started_at))
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.kind}", daemon=True)
        self._thread.start()

    def doing(self, job: str | None) -> None:
        """The job the process is doing now (None: nothing), written at the next beat."""
        self._job = job[:_JOB_MAX] if job else None

    def set_leader(self, leader: bool) -> None:
        """Whether this process holds the clock's leadership; written at once, by an
        early beat, so that `status` never shows two leaders for a whole interval."""
        self._leader = leader
        self._wake.set()

    def stop(self) -> None:
        """Stops beating and records the stop (a database error is logged, not raised:
        this runs while the process shuts down)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.interval, 1.0) * 2)
        try:
            now = self.clock()
            with self.engine.begin() as connection:
                connection.execute(
                    update(PROCESSES)
                    .where(PROCESSES.c.id == self.id)
                    .values(beat_at=now, stopped_at=now, current_job=None, leader=False)
                )
        except Exception as exc:  # noqa: BLE001 - shutting down: say so and go on
            log.warning(
                "process %s: recording its stop failed: %s",
                self.id,
                _first_line(exc),
                extra=self._extra("process_stop_unrecorded", exc),
            )

    @property
    def alive(self) -> bool:
        """True while the beating thread runs (started, not stopped, not dead)."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            self._beat_safely()

    def _beat_safely(self) -> None:
        try:
            self._beat()
        except Exception as exc:  # noqa: BLE001 - a database blip must not end the heartbeat
            # The first failure is news; the ones after it, until a beat succeeds, are not.
            level = logging.DEBUG if self._failing else logging.WARNING
            log.log(
                level,
                "process %s: heartbeat failed, retrying every %ss: %s",
                self.id,
                self.interval,
                _first_line(exc),
                extra=self._extra("heartbeat_failed", exc),
            )
            self._failing = True
            return
        if self._failing:
            log.info(
                "process %s: heartbeat resumed", self.id, extra={"event": "heartbeat_resumed", "process_id": self.id}
            )
            self._failing = False

    def _beat(self) -> None:
        self._write({"beat_at": self.clock(), "current_job": self._job, "leader": self._leader})

    def _write(self, values: dict) -> None:
        """Updates the row with `values`, or writes it whole when it is not there
        (pruned, or the database restored from a backup)."""
        with self.engine.begin() as connection:
            changed = connection.execute(update(PROCESSES).where(PROCESSES.c.id == self.id).values(**values)).rowcount
            if not changed:
                connection.execute(insert(PROCESSES).values(**self._row(values["beat_at"])))

    def _row(self, now: datetime) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at,
            "beat_at": now,
            "current_job": self._job,
            "leader": self._leader,
            "stopped_at": None,
        }

    def _extra(self, event: str, exc: Exception) -> dict:
        return {"event": event, "process_id": self.id, "error": _first_line(exc)}


def process_id(kind: str, host: str, pid: int, started_at: datetime) -> str:
    """`<kind>-<host>-<pid>-<start epoch>`, the host shortened to fit the column."""
    tail = f"-{pid}-{int(started_at.timestamp())}"
    head = f"{kind}-"
    return head + host[: _ID_MAX - len(head) - len(tail)] + tail


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
