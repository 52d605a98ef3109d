"""The one entry point, `changemgmt`, and its subcommands."""
from __future__ import annotations

import sys

import click

from changemgmt import __version__
from changemgmt.cli.context import AppContext, make_context
from changemgmt.cli.demo import demo_command
from changemgmt.cli.feeds import feeds_group, web_command
from changemgmt.cli.gcr import gcr_group
from changemgmt.cli.inventory import export_command, import_command
from changemgmt.cli.notices import plan_command, preview_command, worker_command
from changemgmt.cli.serve import serve_command
from changemgmt.store.migrate import current_revision, upgrade


@click.group()
@click.version_option(__version__, prog_name="changemgmt")
@click.option("--actor", help="Who is making the change (default: $CHANGEMGMT_ACTOR or cli:<user>).")
@click.pass_context
def cli(ctx: click.Context, actor: str | None) -> None:
    """changemgmt: maintenance notification and change management."""
    if ctx.obj is None:
        ctx.obj = make_context(actor)
    elif actor:
        ctx.obj.actor = actor


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade(app: AppContext) -> None:
    """Create the schema in an empty database, or migrate it to the latest version."""
    upgrade(app.engine)
    click.echo(f"database at revision {current_revision(app.engine)}")


@cli.command("clock")
def clock_command() -> None:
    """Run the scheduler (not yet available: `changemgmt worker` plans what falls due)."""
    click.echo("changemgmt clock: not yet available in this version; the worker plans reminders meanwhile",
               err=True)
    sys.exit(1)


for command in (gcr_group, feeds_group, import_command, export_command, demo_command, plan_command,
                worker_command, preview_command, web_command, serve_command):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="changemgmt")
