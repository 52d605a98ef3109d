"""Engines and sessions: one code path for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Maps the URLs platforms hand out (`postgres://`, `postgresql://`) to psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, **kwargs) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, **kwargs)
    return create_engine(url, pool_pre_ping=True, **kwargs)


# The SQLite database holds everything (contacts, GCRs, sealed tokens): only its owner
# may read it, or list its folder, which also holds its -wal and -shm files.
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
_COMPANIONS = ("-wal", "-shm", "-journal")


def private_sqlite_files(database: Path) -> None:
    """Makes the database and its companion files 0600 and its folder 0700 (var/ in the
    embedded mode), creating the folder and an empty database file if need be: SQLite
    gives the -wal and -shm files it creates the database file's mode. Run on every
    start, so looser modes an older version left are fixed. An existing folder that
    holds something others may read or enter (the database was put in the project
    folder, beside calendars/, say) only loses their read and write bits; a folder
    others share (sticky, like /tmp, or not ours) is left as it is."""
    files = [database, *(database.with_name(database.name + suffix) for suffix in _COMPANIONS)]
    _private_folder(database.parent, {path.name for path in files})
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for path in files:
        try:
            if stat.S_IMODE(path.stat().st_mode) != PRIVATE_FILE:
                path.chmod(PRIVATE_FILE)
        except FileNotFoundError:
            pass


def _private_folder(folder: Path, own: set[str]) -> None:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=PRIVATE_FOLDER)
        folder.chmod(PRIVATE_FOLDER)  # mkdir's mode is narrowed by the umask
        return
    except FileExistsError:
        pass
    status = folder.stat()
    if (
        folder.resolve() == Path(folder.resolve().anchor)
        or status.st_mode & stat.S_ISVTX
        or status.st_uid != os.geteuid()
    ):
        return
    mode = stat.S_IMODE(status.st_mode)
    wanted = (mode & 0o711) | 0o700 if _open_to_others(folder, own) else PRIVATE_FOLDER
    if mode != wanted:
        folder.chmod(wanted)


def _open_to_others(folder: Path, own: set[str]) -> bool:
    """True when something in `folder` besides the database's own files grants its group
    or others any access (a symbolic link counts: it may lead anywhere)."""
    with os.scandir(folder) as entries:
        return any(
            entry.name not in own and stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode) & 0o077
            for entry in entries
        )


def _sqlite_engine(url: str, database: str | None, **kwargs) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        private_sqlite_files(Path(database))
    engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
        # BEGIN IMMEDIATE can be issued for claims (STANDARDS E11, E12).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "BEGIN")
        connection.exec_driver_sql(mode)

    return engine


def is_postgres(engine: Engine | Connection) -> bool:
    """True for a PostgreSQL engine, or a connection of one."""
    return engine.dialect.name == "postgresql"


def replan_cached_statements(session: Session) -> None:
    """On PostgreSQL, makes the connection plan its statements afresh on their next run,
    its foreign-key checks included. A check planned while a table was tiny scans the
    whole table for every row it checks: while a big GCR is planned, one planned when the
    outbox held a few hundred rows made publishing 12 times slower, until statistics came
    to invalidate it. (Plans are a connection's, and pooled connections live long.)"""
    if is_postgres(session.get_bind()):
        session.execute(text("DISCARD PLANS"))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together at the end, or not at all. On SQLite it takes
    the database's write lock at its start (BEGIN IMMEDIATE): a transaction that reads
    what it then writes waits its turn there, where a deferred one fails midway ("database
    is locked", at once) when another writer committed since it first read (STANDARDS
    E11, E12). On PostgreSQL, a plain transaction; row locks do the rest."""
    with factory() as session, session.begin():
        session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
        yield session


@contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """On PostgreSQL, the session's statements in the block are sent without waiting for
    each one's answer (psycopg's pipeline mode), and the answers are awaited together at
    its end, or when a result is read: for a run of writes whose results are not needed.
    An error surfaces there, the transaction aborted. A statement must be one command.
    Elsewhere, nothing changes."""
    if not is_postgres(session.get_bind()):
        yield
        return
    with _driver(session.connection()).pipeline():
        yield


def _driver(connection: Connection):
    """The psycopg connection under a SQLAlchemy one."""
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection checked out of the pool is open
    return driver


@contextmanager
def writes_overlapped(session: Session) -> Iterator[None]:
    """On PostgreSQL, the session's INSERTs in the block that return nothing are sent
    without waiting for their answers (psycopg's pipeline mode): the database runs them
    while Python goes on. Any other statement first waits for everything sent before it,
    so reads and updates see what they would have seen. An error in an insert surfaces at
    the next statement that waits, or at the end of the block, the transaction aborted.
    A statement must be one command. Elsewhere, nothing changes."""
    if not is_postgres(session.get_bind()):
        yield
        return
    connection = session.connection()
    with _driver(connection).pipeline() as pipeline:

        def wait_unless_plain_insert(conn, cursor, statement, parameters, context, executemany) -> None:
            if not _ANSWERLESS.match(statement) or _RETURNING.search(statement):
                pipeline.sync()  # its answer (rows, a row count) is read as soon as this returns

        event.listen(connection, "after_cursor_execute", wait_unless_plain_insert)
        try:
            yield
            # Waits for the last inserts through SQLAlchemy, which raises their error as
            # its own (IntegrityError, ...), as it would have without the pipeline.
            connection.exec_driver_sql("SELECT 1")
        finally:
            event.remove(connection, "after_cursor_execute", wait_unless_plain_insert)


# Statements whose answer nothing reads, unless they return rows (DISCARD PLANS: planning).
_ANSWERLESS = re.compile(r"\s*(INSERT|DISCARD)\b", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
