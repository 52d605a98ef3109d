"""`changemgmt demo`: load the realistic sample inventory, replay a few weeks of change
management that leaves GCRs in every state, and publish every calendar feed."""

from __future__ import annotations

import io
import json
from dataclasses import asdict

import click
from sqlalchemy import select

from changemgmt.cli.context import AppContext
from changemgmt.delivery.transports import make_transport
from changemgmt.demo import sample as demo
from changemgmt.demo.replay import replay
from changemgmt.demo.users import DemoUser, busiest_enterprise, demo_users
from changemgmt.feeds.publisher import rebuild_all
from changemgmt.inventory import import_inventory
from changemgmt.store.migrate import upgrade
from changemgmt.store.models import Gcr


@click.command("demo")
@click.option("--customers", default=300, show_default=True, type=click.IntRange(min=2))
@click.option("--services", default=3000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=7, show_default=True)
@click.pass_obj
def demo_command(app: AppContext, customers: int, services: int, seed: int) -> None:
    """Load a sample: customers across North America, contacts, services, and GCRs with
    the history that put them where they are (their mail is in the outbox, dated when it
    went out); then publish every calendar feed; then make a change manager and a
    customer user to sign in with (their made-up passwords printed once, for the demo).

    Safe to run again: the inventory is upserted and existing GCRs are left alone. The
    sample's contacts are made up, so its mail only ever goes to the file outbox."""
    if app.settings.email_backend != "file":
        raise click.ClickException(
            f"demo: EMAIL_BACKEND is {app.settings.email_backend}, and the sample's mail is for made-up contacts: "
            "run the demo with EMAIL_BACKEND=file (the default), on a database of its own"
        )
    upgrade(app.engine)
    sample = demo.inventory(seed=seed, customers=customers, services=services)
    document = io.BytesIO(json.dumps(asdict(sample)).encode())
    document.name = "demo.json"
    result = import_inventory(app.session_factory(), document, settings=app.settings, actor=app.actor, fmt="json")
    for line in result.summary():
        click.echo(line)
    now = app.now()
    steps = demo.history(now, sample)
    enterprise = busiest_enterprise(sample, steps)
    with app.session_factory()() as session:
        existing = set(session.scalars(select(Gcr.number).where(Gcr.number.in_({s.number for s in steps}))))
    for number in sorted(existing):
        click.echo(f"{number}: exists, left as it is")
    steps = [step for step in steps if step.number not in existing]
    if steps:
        done = replay(
            app.engine, app.session_factory(), app.settings, make_transport(app.settings), steps, app.actor, now
        )
        for number, status in sorted(done.statuses.items()):
            click.echo(f"{number}: {status}")
        click.echo(
            f"history: {done.steps} changes from {steps[0].at:%Y-%m-%d} on; {done.deliveries} deliveries "
            f"written to {app.settings.outbox_dir}/, each dated when it went out"
        )
    written = rebuild_all(app.session_factory(), app.settings, now)
    click.echo(
        f"feeds: {written.total + written.unchanged} written to {app.settings.calendars_dir}/; "
        f"`changemgmt feeds url ACCOUNT` prints a customer's subscription URL"
    )
    _sign_in(app, demo_users(app.session_factory(), enterprise, app.settings.default_time_zone, app.actor, now))


def _sign_in(app: AppContext, users: list[DemoUser]) -> None:
    click.echo(f"sign in at {app.settings.base_url}/signin (demo users; their passwords are for this demo only):")
    for user in users:
        password = user.password or "as printed when the demo first made it"
        click.echo(f"  {user.what}: {user.email}  password: {password}")
