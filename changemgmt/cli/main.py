"""The one entry point, `changemgmt`, and its subcommands."""

from __future__ import annotations

import signal
import sys
import threading


def _quiet_exit(*_) -> None:
    sys.exit(130)


# Ctrl-C while the command is still loading (the imports below take a moment) exits
# quietly with status 130, not with a traceback from deep inside a library. The usual
# handler is back at the end of this module; click turns Ctrl-C into "Aborted!" from then on.
_LOADING = threading.current_thread() is threading.main_thread()
_ON_INTERRUPT = signal.signal(signal.SIGINT, _quiet_exit) if _LOADING else None

import click

from changemgmt import __version__
from changemgmt.cli.changes import blackout_group, conflicts_command
from changemgmt.cli.clock import clock_command, release_command
from changemgmt.cli.context import AppContext, make_context, user_fixable_errors
from changemgmt.cli.deliveries import deliveries_group
from changemgmt.cli.demo import demo_command
from changemgmt.cli.feeds import feeds_group, web_command
from changemgmt.cli.gcr import gcr_group
from changemgmt.cli.inventory import export_command, import_command
from changemgmt.cli.keys import keys_group
from changemgmt.cli.notices import plan_command, preview_command, worker_command
from changemgmt.cli.serve import serve_command
from changemgmt.cli.status import status_command
from changemgmt.cli.users import users_group
from changemgmt.logs import configure_logging
from changemgmt.store.migrate import current_revision, upgrade


class Changemgmt(click.Group):
    """The root command. Every subcommand runs inside `user_fixable_errors`: an error the
    user can fix is one line naming what to fix and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        with user_fixable_errors(ctx):
            return super().invoke(ctx)


@click.group(cls=Changemgmt)
@click.version_option(__version__, prog_name="changemgmt")
@click.option(
    "--actor", envvar="CHANGEMGMT_ACTOR", show_envvar=True, help="Who is making the change (default: cli:<user>)."
)
@click.pass_context
def cli(ctx: click.Context, actor: str | None) -> None:
    """changemgmt: maintenance notification and change management."""
    if ctx.obj is None:
        ctx.obj = make_context(actor)
    elif actor:
        ctx.obj.actor = actor
    configure_logging(ctx.obj.settings.log_format)


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade(app: AppContext) -> None:
    """Create the schema in an empty database, or migrate it to the latest version."""
    upgrade(app.engine)
    click.echo(f"database at revision {current_revision(app.engine)}")


for command in (
    gcr_group,
    deliveries_group,
    feeds_group,
    import_command,
    export_command,
    demo_command,
    plan_command,
    worker_command,
    preview_command,
    web_command,
    serve_command,
    clock_command,
    release_command,
    status_command,
    blackout_group,
    conflicts_command,
    keys_group,
    users_group,
):
    cli.add_command(command)


if _LOADING:
    signal.signal(signal.SIGINT, _ON_INTERRUPT)


def main() -> None:
    cli(prog_name="changemgmt")
