"""One clock at a time. On PostgreSQL any number of clock processes may run: the one
holding a session-level advisory lock works, the others poll for it and take over within
seconds when the leader dies or its connection drops (the server then ends the session
and with it the lock). On SQLite there is one clock, guarded by an OS file lock beside
the database: a second one is refused.

The advisory lock lives on a dedicated connection held for the life of the process, so
it needs a session of its own: a pooler in transaction mode (PgBouncer) would break it
(STANDARDS E19). A dropped connection ends the leadership without a word, hence
`still_leading`, which the clock asks before every job."""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from changemgmt.store.db import is_postgres, make_engine, normalize_url


class ClockAlreadyRunning(Exception):
    """Another clock holds this SQLite database."""


class Leadership(Protocol):
    def try_lead(self) -> bool:
        """Takes the leadership if it is free; True when this process holds it."""
        ...

    def still_leading(self) -> bool:
        """Checks, now, that this process still holds the leadership."""
        ...

    def release(self) -> None: ...


# The two keys of the advisory lock: ours, and one per schema, so that deployments that
# share a database in separate schemas elect their clocks separately.
LOCK_CLASS = 0x636D_636B  # "cmck"

_HELD = """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = :class AND objid = :key AND objsubid = 2)
"""


class AdvisoryLock:
    """The leadership as a PostgreSQL session-level advisory lock."""

    def __init__(self, url: str) -> None:
        # Keepalives make a silently dropped connection (a network cut) fail within
        # seconds rather than hang the check.
        keepalives = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}
        self.engine = make_engine(
            url,
            poolclass=NullPool,
            connect_args={"application_name": "changemgmt clock", "connect_timeout": 5, **keepalives},
        )
        self._connection: Connection | None = None
        self._key: int | None = None
        self._mutex = threading.Lock()  # jobs run on several threads; a connection serves one

    def try_lead(self) -> bool:
        with self._mutex:
            try:
                connection = self._connect()
                if connection.execute(text(_HELD), self._params()).scalar():
                    return True
                return bool(
                    connection.execute(text("SELECT pg_try_advisory_lock(:class, :key)"), self._params()).scalar()
                )
            except Exception:  # noqa: BLE001 - the database is away: not leading; the next poll tries again
                self._drop()
                return False

    def still_leading(self) -> bool:
        with self._mutex:
            if self._connection is None:
                return False
            try:
                held = bool(self._connection.execute(text(_HELD), self._params()).scalar())
            except Exception:  # noqa: BLE001 - the connection is gone, and the lock with it
                self._drop()
                return False
            return held

    def release(self) -> None:
        with self._mutex:
            self._drop()
        self.engine.dispose()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the dedicated connection (tests end it to cut the leader off)."""
        with self._mutex:
            if self._connection is None:
                return None
            return self._connection.execute(text("SELECT pg_backend_pid()")).scalar()

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            schema = self._connection.execute(text("SELECT current_schema()")).scalar() or ""
            self._key = schema_key(schema)
        return self._connection

    def _params(self) -> dict[str, int]:
        assert self._key is not None
        return {"class": LOCK_CLASS, "key": self._key}

    def _drop(self) -> None:
        """Closes the connection, which ends its session and any lock it held."""
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001, S110 - it is being thrown away
                pass
        self._connection = None


def schema_key(schema: str) -> int:
    """A stable 31-bit key for the schema's clock lock (positive: pg_locks shows it as an oid)."""
    return int.from_bytes(hashlib.sha256(f"changemgmt.clock:{schema}".encode()).digest()[:4], "big") & 0x7FFF_FFFF


class FileLock:
    """The leadership as an exclusive OS lock on a file beside the SQLite database,
    released by the OS when the process ends however it ends."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".clock.lock")
        self._fd: int | None = None

    def try_lead(self) -> bool:
        """Takes the lock, or raises ClockAlreadyRunning naming the holder."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 100).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ClockAlreadyRunning(
                f"another clock ({holder}) is running on {self.database}: "
                "SQLite has one clock (changemgmt clock, or changemgmt serve); stop it first, "
                "or use PostgreSQL for standby clocks"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd
        return True

    def still_leading(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None


class Alone:
    """An in-memory SQLite database: only this process can see it, so it leads."""

    def try_lead(self) -> bool:
        return True

    def still_leading(self) -> bool:
        return True

    def release(self) -> None:
        pass


def leadership_for(engine: Engine) -> Leadership:
    """The leadership that fits the database `engine` reaches."""
    if is_postgres(engine):
        return AdvisoryLock(engine.url.render_as_string(hide_password=False))
    database = make_url(normalize_url(engine.url.render_as_string(hide_password=False))).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return Alone()
    return FileLock(Path(database).resolve())
