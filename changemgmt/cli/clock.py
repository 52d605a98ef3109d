"""`changemgmt clock` (the scheduler process) and `changemgmt release` (the platform's
release phase: the Procfile's `release` entry)."""

from __future__ import annotations

import signal
import threading
from dataclasses import replace

import click
from apscheduler.schedulers.blocking import BlockingScheduler

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.jobs.clock import POLL_SECONDS, Clock
from changemgmt.store.migrate import current_revision, upgrade


@click.command("clock")
@click.option(
    "--tick",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Seconds between ticks (default: CLOCK_TICK_SECONDS, 5).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0, min_open=True),
    default=POLL_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between a standby clock's looks at the leadership.",
)
@click.pass_obj
@user_errors
def clock_command(app: AppContext, tick: float | None, poll: float) -> None:
    """Run the scheduler: reminders, automatic start and completion, late first notices,
    feed rebuilds and retention, lease rescue, pruning. On PostgreSQL run as many as you
    like: one leads, the others stand by and take over within seconds. On SQLite, one."""
    settings = replace(app.settings, tick_seconds=tick) if tick else app.settings
    app.session_factory()  # the schema must be current: else one line, and exit 1
    clock = Clock(app.engine, settings, app.now, BlockingScheduler, poll_seconds=poll)
    leading = clock.begin()  # on SQLite, refused (one line) while another clock holds the database
    # SIGTERM: stop waking jobs, let the running ones finish, give up the leadership, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: clock.stop_waking())
    state = "leading" if leading else "standing by (another clock leads)"
    click.echo(f"changemgmt clock {clock.heartbeat.id}: ticking every {settings.tick_seconds:g} s, {state}")
    try:
        clock.run()
    except KeyboardInterrupt:
        pass
    finally:
        clock.stop()


@click.command("release")
@click.option(
    "--under",
    envvar="HONCHO_PROCESS_NAME",
    metavar="NAME",
    hidden=True,
    help="Run as NAME under honcho, which sets it (HONCHO_PROCESS_NAME).",
)
@click.pass_obj
@user_errors
def release_command(app: AppContext, under: str | None) -> None:
    """The release phase (the Procfile's `release`): migrate the schema, then exit.

    Under honcho, which stops every process as soon as one exits, it only checks that the
    schema is current and then waits until honcho stops it: run `changemgmt db upgrade`
    before `honcho start`."""
    if not under:
        upgrade(app.engine)
        click.echo(f"release: database at revision {current_revision(app.engine)}")
        return
    app.session_factory()  # the schema must be current: else one line, exit 1, and honcho stops
    click.echo(f"release ({under}): the schema is current; nothing to release under honcho, waiting")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
