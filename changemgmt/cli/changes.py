"""`changemgmt blackout add|list|remove` and `changemgmt conflicts`: change management's
freeze periods and the overlaps between published GCRs (SPEC §8)."""

from __future__ import annotations

import json
from datetime import datetime

import click

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.domain.windows import parse_bound
from changemgmt.gcrs.blackouts import BlackoutQuery, add_blackout, list_blackouts, remove_blackout
from changemgmt.gcrs.conflicts import PERIOD, conflicts_between
from changemgmt.store.db import transaction

TIME_HELP = "ISO 8601 (UTC if no offset; a date alone is its midnight UTC)"


def _time(raw: str, option: str, time_zone: str, end_of_day: bool = False) -> datetime:
    return parse_bound(raw, time_zone, option, end_of_day=end_of_day)


@click.group("blackout")
def blackout_group() -> None:
    """Freeze periods: global, or a customer's (covering the accounts below it)."""


@blackout_group.command("add")
@click.option("--from", "start", required=True, metavar="TIME", help=f"Start, {TIME_HELP}.")
@click.option("--to", "end", required=True, metavar="TIME", help=f"End, {TIME_HELP}; a date alone ends with that day.")
@click.option("--customer", "account", metavar="ACCOUNT", help="Only this customer's (default: global).")
@click.option("--reason", required=True, help="Why nothing may be done then (shown when a change is refused).")
@click.option("--time-zone", default="UTC", show_default=True, help="IANA zone for times written without an offset.")
@click.pass_obj
@user_errors
def add_command(app: AppContext, start: str, end: str, account: str | None, reason: str, time_zone: str) -> None:
    """Add a blackout: publishing a GCR, or moving its windows, into it is refused unless
    overridden with a reason (--blackout-override)."""
    with transaction(app.session_factory()) as session:
        blackout = add_blackout(
            session,
            account,
            _time(start, "--from", time_zone),
            _time(end, "--to", time_zone, end_of_day=True),
            reason,
            app.actor,
            app.now(),
        )
        click.echo(f"added {blackout.describe()}")


@blackout_group.command("list")
@click.option("--from", "start", metavar="TIME", help="Only blackouts ending after TIME.")
@click.option("--to", "end", metavar="TIME", help="Only blackouts starting before TIME.")
@click.option("--customer", "account", metavar="ACCOUNT", help="Only this customer's and the global ones.")
@click.option("--removed", is_flag=True, help="Include removed blackouts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@user_errors
def list_command(app: AppContext, start, end, account, removed, as_json) -> None:
    """List blackouts by start."""
    query = BlackoutQuery(
        start=_time(start, "--from", "UTC") if start else None,
        end=_time(end, "--to", "UTC", end_of_day=True) if end else None,
        account=account,
        removed=removed,
    )
    with app.session_factory()() as session:
        found = list_blackouts(session, query)
    if as_json:
        click.echo(json.dumps([b.to_json() for b in found], indent=2))
    else:
        click.echo("\n".join(b.describe() for b in found) if found else "no blackouts")


@blackout_group.command("remove")
@click.argument("blackout_id", type=int)
@click.pass_obj
@user_errors
def remove_command(app: AppContext, blackout_id: int) -> None:
    """Remove blackout BLACKOUT_ID (it stays in the audit trail)."""
    with transaction(app.session_factory()) as session:
        blackout = remove_blackout(session, blackout_id, app.actor, app.now())
    click.echo(f"removed {blackout.describe()}")


@click.command("conflicts")
@click.option("--from", "start", metavar="TIME", help=f"Start of the period (default now), {TIME_HELP}.")
@click.option("--to", "end", metavar="TIME", help="End of the period (default 90 days after its start).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@user_errors
def conflicts_command(app: AppContext, start: str | None, end: str | None, as_json: bool) -> None:
    """List published GCRs whose windows overlap in the period and which impact the same
    service, customer or work location."""
    begin = _time(start, "--from", "UTC") if start else app.now()
    finish = _time(end, "--to", "UTC", end_of_day=True) if end else begin + PERIOD
    with app.session_factory()() as session:
        pairs = conflicts_between(session, begin, finish)
    if as_json:
        click.echo(json.dumps([p.to_json() for p in pairs], indent=2))
    else:
        click.echo("\n".join(p.describe() for p in pairs) if pairs else "no conflicts")
