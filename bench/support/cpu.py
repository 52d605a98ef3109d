"""CPU seconds from /proc, for benches that run changemgmt as processes: a process's own
(utime + stime), the PostgreSQL backends serving one database (sampled while they live,
since a backend's figures go with it), and the whole machine's busy share (/proc/stat)."""

from __future__ import annotations

import os
import threading
import time

from sqlalchemy import event, text

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """The CPU seconds `pid` has used (user + system); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of stat(5)


class MachineCpu:
    """The machine's CPU time, busy and total, from the first line of /proc/stat."""

    @staticmethod
    def read() -> tuple[float, float]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return (sum(values[:8]) - idle) / TICK, sum(values[:8]) / TICK

    @staticmethod
    def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
        """Busy time over total time between two reads: 1.0 is every core busy."""
        total = after[1] - before[1]
        return (after[0] - before[0]) / total if total else 0.0


class BackendSampler:
    """The CPU seconds of the PostgreSQL backends serving `database` (their /proc entries
    are readable on this machine), but for the `excluded` ones (the bench's own). Every
    `interval` seconds it lists them (pg_stat_activity) and reads each one's CPU, so a
    backend that ends between two reads loses at most one interval of its figures.
    `used()` is the CPU they have used since `mark()`."""

    def __init__(self, engine, database: str, interval: float = 0.25) -> None:
        """`engine`: the bench's own, whose every connection's backend is excluded."""
        self.engine, self.database, self.interval = engine, database, interval
        self.excluded: set[int] = set()
        event.listen(engine, "connect", lambda connection, _: self.exclude(connection.info.backend_pid))
        self.last: dict[int, float] = {}  # pid: its CPU at the last read
        self.baseline: dict[int, float] = {}  # pid: its CPU at mark() (0 for those born after)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.connection = self.engine.connect()
        self.thread.start()

    def exclude(self, pid: int) -> None:
        with self.lock:
            self.excluded.add(pid)
            self.baseline.pop(pid, None)
            self.last.pop(pid, None)

    def mark(self) -> None:
        self.sample()
        with self.lock:
            self.baseline = dict(self.last)

    def used(self) -> float:
        self.sample()
        with self.lock:
            return sum(cpu - self.baseline.get(pid, 0.0) for pid, cpu in self.last.items())

    def sample(self) -> None:
        with self.lock:
            pids = self.connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND backend_type = 'client backend'"),
                {"db": self.database},
            ).scalars()
            self.connection.commit()
            for pid in pids:
                cpu = process_cpu(pid)
                if pid not in self.excluded and cpu is not None:
                    self.last[pid] = cpu

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.connection.close()


def wait_for(what: str, seconds: float, found, pause: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(pause)
    raise TimeoutError(f"timed out after {seconds:g} s waiting for {what}")
