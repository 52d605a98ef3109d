"""The one entry point, `changemgmt`, and its subcommands."""
from __future__ import annotations

import sys

import click

from changemgmt import __version__
from changemgmt.cli.context import AppContext, make_context
from changemgmt.cli.gcr import gcr_group
from changemgmt.cli.notices import plan_command, preview_command, worker_command
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


def _not_yet(name: str, what: str) -> None:
    @cli.command(name, help=f"{what} (not yet available).")
    def command() -> None:
        click.echo(f"changemgmt {name}: not yet available in this version", err=True)
        sys.exit(1)


cli.add_command(gcr_group)


def _register_optional() -> None:
    from changemgmt.cli.demo import demo_command
    from changemgmt.cli.inventory import export_command, import_command

    cli.add_command(import_command)
    cli.add_command(export_command)
    cli.add_command(demo_command)


_register_optional()
for command in (plan_command, worker_command, preview_command):
    cli.add_command(command)
_not_yet("web", "Run the web UI, API and feed server")
_not_yet("clock", "Run the scheduler")
_not_yet("serve", "Run web, clock and worker in one process")


def main() -> None:
    cli(prog_name="changemgmt")
