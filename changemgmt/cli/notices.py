"""`changemgmt plan`, `worker` and `preview`: what goes out, sending it, and seeing it."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import datetime

import click
from sqlalchemy import select

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.delivery.preview import preview_message
from changemgmt.delivery.transports import make_transport
from changemgmt.delivery.worker import BATCH_SIZE, Worker, favour_waiting_threads
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.states import NoticeState
from changemgmt.domain.windows import parse_instant
from changemgmt.jobs.heartbeat import Heartbeat
from changemgmt.jobs.tick import tick_in
from changemgmt.jobs.worker_loop import run_rounds
from changemgmt.store.db import transaction
from changemgmt.store.models import Customer, Delivery, Gcr, Notice


def _at(app: AppContext, raw: str | None) -> datetime:
    return parse_instant(raw, "UTC", "--at") if raw else app.now()


@click.command("plan")
@click.option("--at", "at", metavar="TIME", help="Plan as of this moment (ISO 8601; default now, UTC if no offset).")
@click.option("--dry-run", is_flag=True, help="Show what would be queued, and change nothing.")
@click.pass_obj
@user_errors
def plan_command(app: AppContext, at: str | None, dry_run: bool) -> None:
    """Plan what falls due by TIME (reminders, status changes) and list the queue: one
    tick of the clock, by hand. Safe beside a running clock: each GCR is handled under its
    lock, and one the clock is handling right now is left to it."""
    now = _at(app, at)
    with transaction(app.session_factory()) as session:
        result = tick_in(session, app.settings, now)
        for line in result.advanced:
            click.echo(line)
        for number in result.busy:
            click.echo(f"{number}: being changed right now; left to the clock")
        rows = session.execute(
            select(Notice, Gcr.number, Customer.account)
            .join(Gcr, Gcr.id == Notice.gcr_id)
            .join(Customer, Customer.id == Notice.customer_id)
            .where(Notice.state == NoticeState.PENDING, Notice.due_at <= now)
            .order_by(Notice.due_at, Notice.id)
        ).all()
        verb = "would be queued" if dry_run else "queued"
        click.echo(f"{len(rows)} notice(s) {verb} as of {now.isoformat()}:")
        for notice, number, account in rows:
            click.echo(f"  {notice.due_at:%Y-%m-%dT%H:%MZ}  {number}  {account}  {notice.kind}")
        if dry_run:
            session.rollback()


@click.command("worker")
@click.option("--once", is_flag=True, help="Send what is due, then exit.")
@click.option("--at", "at", metavar="TIME", hidden=True, help="Act as if it were TIME (testing, replays).")
@click.option("--batch", default=BATCH_SIZE, show_default=True, help="Deliveries claimed at a time.")
@click.option("--concurrency", type=click.IntRange(1, 256), help="Sends at once (default: SEND_CONCURRENCY).")
@click.option("--idle", default=2.0, show_default=True, help="Seconds to wait when nothing is due.")
@click.pass_obj
@user_errors
def worker_command(
    app: AppContext, once: bool, at: str | None, batch: int, concurrency: int | None, idle: float
) -> None:
    """Send due notices, retrying failures with backoff (the clock plans what falls due
    and rewrites the feeds). Run as many as needed on PostgreSQL. SIGTERM (or Ctrl-C):
    stop claiming, finish the sends in flight within WORKER_GRACE_SECONDS, put back what
    was claimed and not sent, exit 0."""
    clock = (lambda: _at(app, at)) if at else app.now
    sessions = app.session_factory()  # the schema must be current: else one line, and exit 1
    heartbeat = Heartbeat(app.engine, "worker", clock, app.settings.heartbeat_seconds)
    favour_waiting_threads()
    worker = Worker(
        app.engine,
        make_transport(app.settings),
        app.settings,
        clock,
        name=heartbeat.id,
        batch_size=batch,
        concurrency=concurrency,
    )
    report = lambda handled: click.echo(f"sent or settled {handled} deliveries")  # noqa: E731
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    heartbeat.start()  # its claims are its own while it beats (delivery.claim)
    try:
        if once:
            report(worker.drain(stop))
            _report_queue(sessions)
        else:
            run_rounds(worker, stop, idle, report, heartbeat)
    finally:
        worker.close()
        heartbeat.stop()
    if worker.sends.busy:
        # A send still hangs on the network (abandoned, recorded): the interpreter's
        # teardown would wait on it for seconds past the grace period. All is written.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)


def _report_queue(sessions) -> None:
    with sessions() as session:
        states = session.execute(select(Delivery.state, Delivery.id)).all()
    counts: dict[str, int] = {}
    for state, _ in states:
        counts[state] = counts.get(state, 0) + 1
    click.echo("deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))


@click.command("preview")
@click.argument("number")
@click.option("--account", required=True, help="The customer account to preview for.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in NoticeKind]),
    help="Notice kind (default: the first notice the account would get now).",
)
@click.option("--tentative", is_flag=True, help="For a draft: as published tentative (default: confirmed).")
@click.option("--ics", "only_ics", is_flag=True, help="Print only the .ics attachment.")
@click.pass_obj
@user_errors
def preview_command(
    app: AppContext, number: str, account: str, kind: str | None, tentative: bool, only_ics: bool
) -> None:
    """Print the email (and its .ics) that ACCOUNT would get about GCR NUMBER now; a draft
    as if published now, as `gcr publish` would (confirmed, or --tentative)."""
    sessions = app.session_factory()
    with sessions() as session:
        message = preview_message(session, app.settings, number, account, kind, tentative, app.now(), sessions)
    if only_ics:
        click.echo(message.ics.decode())
        return
    if not message.recipients:
        click.echo(f"{account} has no contacts: the email is shown addressed to no one", err=True)
    click.echo(message.email_for(message.recipients[0] if message.recipients else None).as_string())
