"""A process's heartbeat row in `processes`: written at its start, every `interval`
seconds while it lives (with the job it is doing and, for a clock, whether it leads),
and at its stop. `changemgmt status` reads them: a process whose beat is old is dead or
stalled. (A minimal version of the API issue 12's "observe" part defines.)"""

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


class Heartbeat:
    def __init__(self, engine: Engine, kind: str, clock: Callable[[], datetime], interval: float = 5.0) -> None:
        self.engine, self.kind, self.clock, self.interval = engine, kind, clock, interval
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.started = clock()
        self.id = f"{kind}-{self.host[:60]}-{self.pid}-{int(self.started.timestamp())}"
        self._job: str | None = None
        self._leader = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Inserts the row, then beats every `interval` seconds on a daemon thread."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(Process).values(
                    id=self.id,
                    kind=self.kind,
                    host=self.host,
                    pid=self.pid,
                    started_at=self.started,
                    beat_at=self.started,
                    leader=False,
                )
            )
        self._thread = threading.Thread(target=self._beat_until_stopped, name=f"heartbeat-{self.kind}", daemon=True)
        self._thread.start()

    def doing(self, job: str | None) -> None:
        """The job the process is doing now (None: idle), written at the next beat."""
        self._job = job

    def set_leader(self, leader: bool) -> None:
        self._leader = leader

    def stop(self) -> None:
        """Stops beating and records the stop."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.interval, 5))
        try:
            self._write(stopped_at=self.clock())
        except Exception as exc:  # noqa: BLE001 - a process stopping with the database away stops all the same
            log.warning("heartbeat %s: could not record the stop: %s", self.id, exc)

    @property
    def alive(self) -> bool:
        """True while its thread is beating."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def _beat_until_stopped(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self._write()
            except Exception as exc:  # noqa: BLE001 - a database blip must not stop the beating
                log.warning("heartbeat %s: could not beat: %s", self.id, exc)

    def _write(self, **values) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(Process)
                .where(Process.id == self.id)
                .values(beat_at=self.clock(), current_job=self._job, leader=self._leader, **values)
            )
