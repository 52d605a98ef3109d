"""`changemgmt gcr ...`: create, change and read GCRs from a file or from flags."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.domain.status import Status
from changemgmt.domain.windows import parse_bound
from changemgmt.gcrs.documents import load_document
from changemgmt.gcrs.impact_lists import flag_impact
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.listing import GcrQuery, GcrSummary, list_gcrs
from changemgmt.gcrs.present import gcr_document, gcr_text
from changemgmt.gcrs.service import GcrChange, Who, change_status, create_gcr, update_gcr
from changemgmt.store.db import transaction
from changemgmt.store.queries import get_gcr


def _field_options(command):
    options = [
        click.option("--title"),
        click.option("--description"),
        click.option("--reason", help="Why the work is needed."),
        click.option("--work-location"),
        click.option("--location", "locations", multiple=True, help="Location code (repeatable)."),
        click.option(
            "--window",
            "windows",
            multiple=True,
            metavar="START/END",
            help="ISO 8601 start/end, e.g. 2026-12-01T01:00/2026-12-01T05:00 (repeatable).",
        ),
        click.option("--time-zone", help="IANA zone for window times written without an offset."),
        click.option(
            "--impact",
            "impacts",
            multiple=True,
            metavar="SERVICE[:LEVEL[:MINUTES]]",
            help="An impacted service, e.g. SVC-1:OUTAGE:30 (repeatable).",
        ),
        click.option("--emergency/--no-emergency", default=None),
        click.option("--contact-name"),
        click.option("--contact-email"),
        click.option("--contact-phone"),
        click.option("--internal-notes", help="Never sent to customers."),
        click.option("--override-reason", help="Why the minimum notice may be overridden."),
        click.option("--blackout-override", metavar="REASON", help="Why a blackout may be overridden."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _document(file: str | None, flags: dict[str, Any]) -> dict[str, Any]:
    """The GCR fields from FILE, with the flags given on top (parse_patch checks them)."""
    data = load_document(file) if file else {}
    for name in ("title", "description", "reason", "work_location", "internal_notes", "time_zone", "emergency"):
        if flags.get(name) is not None:
            data[name] = flags[name]
    if flags.get("locations"):
        data["locations"] = list(flags["locations"])
    if flags.get("windows"):
        data["windows"] = list(flags["windows"])  # START/END, as a document may write them
    if flags.get("impacts"):
        data["impacts"] = [flag_impact(raw) for raw in flags["impacts"]]
    contact = {k: flags[f"contact_{k}"] for k in ("name", "email", "phone") if flags.get(f"contact_{k}") is not None}
    if contact:
        given = data.get("contact")
        data["contact"] = {**(given if isinstance(given, dict) else {}), **contact}
    return data


def _who(app: AppContext) -> Who:
    return Who(app.actor, app.now(), app.settings)


def _report(change: GcrChange) -> None:
    revision = f"revision {change.revision}" if change.revision else "no new revision (internal change only)"
    if not change.changes:
        revision = "nothing changed"
    click.echo(f"{change.gcr.number}: {change.after.status.value}, {revision}")
    for blackout in change.blackouts_overridden:
        click.echo(f"  overrides {blackout.describe()}")
    for conflict in change.conflicts:
        click.echo(f"  conflict: {conflict.describe()}")


@click.group("gcr")
def gcr_group() -> None:
    """Create, change and show GCRs (maintenance events)."""


@gcr_group.command("create")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--number", help="The GCR number, e.g. GCR-1001.")
@_field_options
@click.option("--publish", type=click.Choice(["tentative", "confirmed"]), help="Publish at once.")
@click.pass_obj
@user_errors
def create_command(app: AppContext, file, number, publish, override_reason, blackout_override, **flags) -> None:
    """Create a draft GCR from FILE (JSON or YAML) and/or flags."""
    data = _document(file, flags)
    if number:
        data["number"] = number
    data.pop("status", None)
    with transaction(app.session_factory()) as session:
        change = create_gcr(session, parse_patch(data), _who(app))
        if publish:
            number = change.gcr.number
            change = change_status(
                session, number, Status(publish), _who(app), override_reason, blackout_override=blackout_override
            )
        _report(change)


@gcr_group.command("update")
@click.argument("number")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@_field_options
@click.pass_obj
@user_errors
def update_command(app: AppContext, number, file, override_reason, blackout_override, **flags) -> None:
    """Change GCR NUMBER. Windows given replace the current ones (keep a window's
    `number` to move it); impacts given replace the impacted services."""
    with transaction(app.session_factory()) as session:
        patch = parse_patch(_document(file, flags))
        _report(update_gcr(session, number, patch, _who(app), override_reason, blackout_override))


def _status_command(name: str, target: Status | None, help_text: str):
    @gcr_group.command(name, help=help_text)
    @click.argument("number")
    @click.option("--override-reason", help="Why the minimum notice may be overridden.")
    @click.option("--blackout-override", metavar="REASON", help="Why a blackout may be overridden.")
    @click.option("--tentative", is_flag=True, hidden=target is not None, help="Publish as tentative.")
    @click.option("--reason", help="Why (recorded in the audit trail), e.g. why the work is cancelled.")
    @click.pass_obj
    @user_errors
    def command(app: AppContext, number, override_reason, blackout_override, tentative, reason) -> None:
        status = target or (Status.TENTATIVE if tentative else Status.CONFIRMED)
        with transaction(app.session_factory()) as session:
            change = change_status(
                session, number, status, _who(app), override_reason, reason, blackout_override=blackout_override
            )
            _report(change)

    return command


_status_command("publish", None, "Publish GCR NUMBER as confirmed (or --tentative); a tentative one is confirmed.")
_status_command("start", Status.IN_PROGRESS, "Mark GCR NUMBER as in progress.")
_status_command("complete", Status.COMPLETED, "Mark GCR NUMBER as completed.")
_status_command("cancel", Status.CANCELLED, "Cancel GCR NUMBER.")


@gcr_group.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@user_errors
def show_command(app: AppContext, number, as_json) -> None:
    """Show GCR NUMBER: its state, impacted customers and history."""
    with app.session_factory()() as session:
        document = gcr_document(session, get_gcr(session, number))
    click.echo(json.dumps(document, indent=2) if as_json else gcr_text(document))


@gcr_group.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in Status]),
    help="Only GCRs in this status (repeatable).",
)
@click.option(
    "--from",
    "start",
    metavar="TIME",
    help="Only GCRs with a window ending after TIME (ISO 8601, UTC if no offset; a date alone is its midnight UTC).",
)
@click.option(
    "--to",
    "end",
    metavar="TIME",
    help="Only GCRs with a window starting before TIME (a date alone includes that whole day, UTC).",
)
@click.option(
    "--customer",
    "account",
    metavar="ACCOUNT",
    help="Only GCRs impacting this customer's services (an enterprise's: its accounts' too).",
)
@click.option("--service", "service_id", metavar="SERVICE_ID", help="Only GCRs impacting this service.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many GCRs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_command(app: AppContext, statuses, start, end, account, service_id, limit, as_json) -> None:
    """List GCRs: those with a window not yet over first (soonest first), then the
    others (latest first). Times are UTC."""
    query = GcrQuery(
        statuses=tuple(Status(s) for s in statuses),
        start=_list_time(start, "--from", False),
        end=_list_time(end, "--to", True),
        account=account,
        service_id=service_id,
        limit=limit,
    )
    with app.session_factory()() as session:
        found = list_gcrs(session, query, app.now())
    if as_json:
        click.echo(json.dumps([g.to_json() for g in found], indent=2))
    elif not found:
        click.echo("no GCRs match")
    else:
        click.echo(_list_table(found, app.now()))


def _list_time(raw: str | None, option: str, end_of_day: bool) -> datetime | None:
    if raw is None:
        return None
    return parse_bound(raw, "UTC", option, end_of_day=end_of_day)


def _list_table(found: list[GcrSummary], now: datetime) -> str:
    header = ("NUMBER", "STATUS", "WINDOW (UTC)", "SERVICES", "CUSTOMERS", "TITLE")
    rows = [header] + [
        (
            g.number,
            g.status.value,
            _window_cell(g, now),
            str(g.services),
            str(g.customers),
            ("EMERGENCY: " if g.emergency else "") + g.title,
        )
        for g in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows)


def _window_cell(gcr: GcrSummary, now: datetime) -> str:
    window = gcr.window_at(now)
    if window is None:
        return "-"
    end = f"{window.end:%H:%M}" if window.end.date() == window.start.date() else f"{window.end:%Y-%m-%d %H:%M}"
    more = f" (+{len(gcr.windows) - 1} more)" if len(gcr.windows) > 1 else ""
    return f"{window.start:%Y-%m-%d %H:%M} - {end}{more}"
