"""`changemgmt deliveries list|retry`: see what went out or failed, and send failed ones again."""

from __future__ import annotations

import json

import click

from changemgmt.cli.context import AppContext
from changemgmt.delivery.operations import DeliveryQuery, DeliverySummary, list_deliveries, retry_deliveries
from changemgmt.domain.states import DeliveryState
from changemgmt.store.db import transaction


@click.group("deliveries")
def deliveries_group() -> None:
    """List deliveries (one per customer notice) and retry failed ones."""


@deliveries_group.command("list")
@click.option("--gcr", "number", metavar="GCR", help="Only this GCR's deliveries.")
@click.option(
    "--customer", "account", metavar="ACCOUNT", help="Only this customer's (an enterprise's: its accounts' too)."
)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in DeliveryState]),
    help="Only deliveries in this state (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_command(app: AppContext, number, account, states, limit, as_json) -> None:
    """List deliveries, oldest first, with their state, attempts and last error. Times are UTC."""
    query = DeliveryQuery(number, account, tuple(DeliveryState(s) for s in states), limit)
    with app.session_factory()() as session:
        found = list_deliveries(session, query)
    if as_json:
        click.echo(json.dumps([d.to_json() for d in found], indent=2))
    elif not found:
        click.echo("no deliveries match")
    else:
        click.echo(_table(found))


def _table(found: list[DeliverySummary]) -> str:
    header = ("ID", "GCR", "ACCOUNT", "KIND", "STATE", "ATTEMPTS", "TO", "WHEN (UTC)", "LAST ERROR")
    rows = [header] + [
        (
            str(d.id),
            d.gcr,
            d.account,
            d.kind,
            d.state,
            str(d.attempts),
            str(d.recipients),
            _when(d),
            _one_line(d.last_error) if d.state != DeliveryState.SENT else "",
        )
        for d in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _when(d: DeliverySummary) -> str:
    """When it was sent, or when it is next due (for a delivery not settled)."""
    if d.sent_at is not None:
        return f"sent {d.sent_at:%Y-%m-%d %H:%M:%S}"
    if d.state in (DeliveryState.PENDING, DeliveryState.SENDING):
        return f"due {d.next_attempt_at:%Y-%m-%d %H:%M:%S}"
    return "-"


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


@deliveries_group.command("retry")
@click.argument("ids", nargs=-1, type=click.IntRange(min=1), metavar="[ID]...")
@click.option("--gcr", "number", metavar="GCR", help="Retry this GCR's deliveries (with --failed: its failed ones).")
@click.option("--failed", is_flag=True, help="With --gcr: every failed delivery of the GCR.")
@click.pass_obj
def retry_command(app: AppContext, ids, number, failed) -> None:
    """Send failed deliveries once more: those with these IDs, or every failed one of a
    GCR (--gcr GCR --failed). Each is due at once, to the recipients that had not
    received it, with its full retry budget again."""
    with transaction(app.session_factory()) as session:
        retried = retry_deliveries(session, list(ids) or None, number, failed, now=app.now(), actor=app.actor)
    if not retried:
        click.echo(f"{number}: no failed deliveries to retry")
        return
    for d in retried:
        click.echo(f"delivery {d.id}: {d.gcr} {d.kind} to {d.account}, due again for {d.recipients} recipient(s)")
    click.echo(f"{len(retried)} delivery(ies) retried")
