"""What every CLI command shares: settings, the database, who is acting, and how
errors reach the user (a clear message naming the field, and a non-zero exit)."""
from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Callable
from datetime import datetime, timezone

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import ConfigError, Settings, load_settings
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.store.db import make_engine, session_factory


class AppContext:
    """Passed to commands as `ctx.obj`; opens the database only when a command needs it."""

    def __init__(self, settings: Settings, actor: str, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.actor = actor
        self.clock = clock
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def session_factory(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def now(self) -> datetime:
        return self.clock()


def default_actor() -> str:
    return os.environ.get("CHANGEMGMT_ACTOR") or f"cli:{getpass.getuser()}"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def make_context(actor: str | None) -> AppContext:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    return AppContext(settings, actor or default_actor(), utc_now)


def user_errors(command: Callable) -> Callable:
    """Turns the errors a user can fix into a one-line message and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper
