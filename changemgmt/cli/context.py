"""What every CLI command shares: settings, the database, who is acting, and how
errors reach the user.

An error the user can fix (bad input, a setting, the database's URL, schema or server, a
path that cannot be written) is one line naming what to fix, and a non-zero exit: the
root command runs every subcommand inside `user_fixable_errors`, so no command needs to
catch them itself. Anything else is a fault of ours and keeps its traceback.
"""

from __future__ import annotations

import errno
import functools
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from sqlalchemy import Engine
from sqlalchemy import exc as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import ConfigError, Settings, load_settings
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.feeds.feed_tokens import SealError
from changemgmt.jobs.leadership import ClockAlreadyRunning
from changemgmt.store.db import make_engine, session_factory
from changemgmt.store.migrate import SchemaNotCurrent, check_schema

# What SQLite says when its file, not our SQL, is at fault.
SQLITE_FILE_PROBLEMS = (
    "unable to open database",
    "readonly database",
    "database is locked",
    "disk i/o error",
    "database or disk is full",
    "file is not a database",
)


class AppContext:
    """Passed to commands as `ctx.obj`; opens the database only when a command needs it.

    `session_factory()` is for work: it first checks, once, that the schema is current.
    `engine` is the bare engine, for the commands that migrate it (`db upgrade`, `demo`,
    `serve`)."""

    def __init__(self, settings: Settings, actor: str, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.actor = actor
        self.clock = clock
        self._engine: Engine | None = None
        self._schema_checked = False

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def session_factory(self) -> sessionmaker[Session]:
        if not self._schema_checked:
            check_schema(self.engine)
            self._schema_checked = True
        return session_factory(self.engine)

    def now(self) -> datetime:
        return self.clock()


def default_actor() -> str:
    return f"cli:{getpass.getuser()}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_context(actor: str | None) -> AppContext:
    return AppContext(load_settings(), actor or default_actor(), utc_now)


@contextmanager
def user_fixable_errors(ctx: click.Context | None) -> Iterator[None]:
    """Turns an error the user can fix into a one-line click error (exit status 1)."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as exc:
        if _interrupted(exc):  # Ctrl-C in the middle of a statement, and the clean-up failed after it
            raise click.Abort() from None
        message = explain(exc, ctx.find_object(AppContext) if ctx else None)
        if message is None:
            raise
        raise click.ClickException(message) from None


def _interrupted(exc: BaseException) -> bool:
    """True when Ctrl-C is among the causes of `exc`."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def explain(exc: Exception, app: AppContext | None) -> str | None:
    """The one line to show for an error the user can fix; None for a fault of ours."""
    if isinstance(exc, (DomainError, NotFound)):
        return str(exc)
    if isinstance(exc, ConfigError):
        return f"configuration: {exc}"
    if isinstance(exc, SealError):
        return f"SECRET_KEY: {exc}; restore the key the feeds were made with, or rotate them"
    if isinstance(exc, SchemaNotCurrent):
        return _schema_line(exc, app)
    if isinstance(exc, ClockAlreadyRunning):
        return str(exc)
    if isinstance(exc, sa.ArgumentError):
        return (
            f"DATABASE_URL: {_shown_url(app)} is not a database URL changemgmt can use ({_first_line(exc)}); "
            "give sqlite:///path/to/file.db or postgresql://user@host/database"
        )
    if isinstance(exc, sa.DBAPIError):
        return _database_line(exc, app)
    if isinstance(exc, OSError) and exc.errno != errno.EPIPE:  # EPIPE: `| head` stopped reading; click copes
        return _path_line(exc)
    return None


def _schema_line(exc: SchemaNotCurrent, app: AppContext | None) -> str:
    fix = "run `changemgmt db upgrade`" if exc.upgrade_fixes_it else "upgrade changemgmt"
    return f"{exc}: {fix}" + (f" (database: {_shown_url(app)})" if app else "")


def _database_line(exc: sa.DBAPIError, app: AppContext | None) -> str | None:
    """A database that cannot be reached, opened or written is the user's to fix; any
    other database error is a fault of ours."""
    reason = _first_line(exc.orig or exc)
    where = f"cannot use the database {_shown_url(app)}: {reason}"
    lost = exc.statement is None or exc.connection_invalidated  # connecting failed, or the connection broke
    if lost and isinstance(exc, (sa.OperationalError, sa.InterfaceError)):
        return f"{where}; check DATABASE_URL and that the database server is running"
    if any(words in reason.lower() for words in SQLITE_FILE_PROBLEMS):
        return f"{where}; check the database file, its folder and their permissions"
    return None


def _path_line(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return (
        f"cannot use{where}: {exc.strerror or exc}; check the path and its permissions "
        "(CHANGEMGMT_HOME, OUTBOX_DIR, CALENDARS_DIR)"
    )


def _shown_url(app: AppContext | None) -> str:
    """DATABASE_URL as it can be printed: never with its password."""
    raw = app.settings.database_url if app else ""
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given, cut at any '@'
        return repr(raw.rsplit("@", 1)[-1] if "@" in raw else raw)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def user_errors(command: Callable) -> Callable:
    """Kept for commands run on their own, outside the root command (which already does
    this for every subcommand): user-fixable errors become one line and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        with user_fixable_errors(click.get_current_context(silent=True)):
            return command(*args, **kwargs)

    return wrapper
