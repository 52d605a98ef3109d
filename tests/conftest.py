"""The shared test world: a real database (SQLite, or PostgreSQL when DATABASE_URL names
one), migrated from empty once per run and emptied after every test."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from changemgmt.cli.context import AppContext
from changemgmt.cli.main import cli
from changemgmt.config import load_settings
from changemgmt.feeds.publisher import rebuild_all
from changemgmt.store.db import make_engine, session_factory, transaction
from changemgmt.store.migrate import recreate
from changemgmt.store.models import Base
from support.browser import chromium
from support.feeds import GCR, Feeds
from support.gcrs import Clock, Desk
from world import build_world

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    recreate(engine)
    yield engine
    engine.dispose()


def empty_database(engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def db(engine):
    """A session factory on the migrated database; every table is emptied afterwards."""
    yield session_factory(engine)
    empty_database(engine)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path


@pytest.fixture
def env(home, database_url) -> dict[str, str]:
    """The environment a changemgmt process in a test runs with."""
    return {"CHANGEMGMT_HOME": str(home), "DATABASE_URL": database_url}


@pytest.fixture
def settings(env):
    return load_settings(env)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def clock(now) -> Clock:
    """The time every change and worker step in a test happens at; it moves only when told."""
    return Clock(now)


@pytest.fixture
def desk(db, settings, clock) -> Desk:
    """A change manager's desk over the shared small world."""
    with transaction(db) as session:
        build_world(session)
    return Desk(db, settings, clock)


@pytest.fixture
def run(env, now):
    """Runs `changemgmt ARGS` as carol at the fixed `now` (the clock is injected, never read
    from the machine); checks the exit status and returns what it printed."""
    runner = CliRunner()

    def invoke(*args, expect: int = 0) -> str:
        app = AppContext(load_settings(env), "carol", lambda: now)
        result = runner.invoke(cli, args, obj=app, env=env, catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result.output

    return invoke


@pytest.fixture
def feeds(db, settings, clock, desk):
    """Every feed of the small world, written before any GCR exists."""
    rebuild_all(db, settings, clock())
    return Feeds(db, settings, clock)


@pytest.fixture
def published_feeds(db, settings, clock, desk):
    """Every feed of the small world, written after the sample GCR was published."""
    desk.publish(GCR)
    rebuild_all(db, settings, clock())
    return Feeds(db, settings, clock)


@pytest.fixture
def browser():
    """Debian's Chromium, headless, driven by Playwright (tests/support/browser.py)."""
    with chromium() as browser:
        yield browser
