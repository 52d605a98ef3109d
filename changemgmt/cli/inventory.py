"""`changemgmt import` and `changemgmt export`: the inventory as CSV or JSON (SPEC §1).

The commands ask only this of `ctx.obj` (the main CLI's AppContext provides it):

    class InventoryApp(Protocol):
        settings: Settings
        def session_factory(self) -> sessionmaker[Session]: ...

and use `ctx.obj.actor` (str) and `ctx.obj.now()` (aware datetime) when it has them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from changemgmt.domain.errors import DomainError
from changemgmt.inventory import KIND_NAMES, ImportFailed, export_inventory, import_inventory
from changemgmt.inventory.readers import Progress


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(KIND_NAMES), help="Kind of rows (default: from the CSV header or JSON keys).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), help="Default: from the file's content.")
@click.option("--actor", help="Who is importing, for the audit trail.")
@click.option("--dry-run", is_flag=True, help="Check and count everything, write nothing.")
@click.pass_context
def import_command(
    ctx: click.Context, file: str, kind: str | None, fmt: str | None, actor: str | None, dry_run: bool
) -> None:
    """Import inventory rows from FILE (CSV or JSON) as upserts, all or nothing.

    Any bad row rejects the whole file; every bad row is listed with its line and field.
    """
    app = ctx.obj
    try:
        with _progress_bar(Path(file).stat().st_size) as progress:
            result = import_inventory(
                app.session_factory(),
                file,
                settings=app.settings,
                actor=actor or _actor(app),
                kind=kind,
                fmt=fmt,
                dry_run=dry_run,
                progress=progress,
                now=_now(app),
            )
    except ImportFailed as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        click.echo(f"{file}: {exc.message}", err=True)
        ctx.exit(1)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.more_warnings:
        click.echo(f"warning: ... and {result.more_warnings} more", err=True)
    for line in result.summary():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing was written")


@click.command("export")
@click.option("--kind", type=click.Choice(KIND_NAMES), help="Required for CSV; JSON holds every kind without it.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    help="Default: json when the output file ends in .json, else csv.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@click.pass_obj
def export_command(app, kind: str | None, fmt: str | None, output: str | None) -> None:
    """Export the inventory as CSV (one kind) or JSON, in the format `import` reads."""
    fmt = fmt or ("json" if output and output.lower().endswith(".json") else "csv")
    if fmt == "csv" and kind is None:
        raise click.UsageError("a CSV export holds one kind: give --kind (or --format json)")
    try:
        if output:
            counts = _export_to_file(app, Path(output), kind, fmt)
        else:
            counts = export_inventory(app.session_factory(), sys.stdout, kind=kind, fmt=fmt)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    except BrokenPipeError:
        raise  # the reader went away (`| head`): click exits quietly
    except OSError as exc:
        raise click.ClickException(f"cannot write {output or 'to stdout'}: {exc.strerror}") from None
    for name, rows in counts.items():
        click.echo(f"{name}: {rows} rows exported", err=True)


def _export_to_file(app, path: Path, kind: str | None, fmt: str) -> dict[str, int]:
    """Writes beside `path` and renames, so a failed export never leaves half a file."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            counts = export_inventory(app.session_factory(), out, kind=kind, fmt=fmt)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return counts


@contextmanager
def _progress_bar(size: int) -> Iterator[Progress | None]:
    stderr = sys.stderr
    if not stderr.isatty():
        yield None
        return
    with click.progressbar(length=size, label="Importing", file=stderr, show_pos=False) as bar:

        def advance(done: int, total: int) -> None:
            bar.update(done - bar.pos)

        yield advance


def _actor(app) -> str:
    return getattr(app, "actor", None) or "cli"


def _now(app) -> datetime | None:
    now = getattr(app, "now", None)
    return now() if callable(now) else None
