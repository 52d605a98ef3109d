"""`changemgmt demo`: load the realistic sample inventory and GCRs in every state."""
from __future__ import annotations

import io
import json
from dataclasses import asdict
from datetime import datetime, timedelta

import click
from sqlalchemy import select

from changemgmt import demo
from changemgmt.cli.context import AppContext, user_errors
from changemgmt.domain.status import Status
from changemgmt.feeds.publisher import rebuild_all
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who, change_status, create_gcr
from changemgmt.inventory import import_inventory
from changemgmt.store.db import transaction
from changemgmt.store.migrate import upgrade
from changemgmt.store.models import Gcr

DEMO_OVERRIDE = "demo sample: windows placed around now to show every state"


def _created_at(now: datetime, data: dict) -> datetime:
    """When a sample GCR was created: now, or before its first window for one already
    under way or done (no GCR is created with a window in the past)."""
    first = min(datetime.fromisoformat(window["start"]) for window in data["windows"])
    return min(now, first - timedelta(days=1))


@click.command("demo")
@click.option("--customers", default=300, show_default=True)
@click.option("--services", default=3000, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.pass_obj
@user_errors
def demo_command(app: AppContext, customers: int, services: int, seed: int) -> None:
    """Load a sample: customers across North America, contacts, services and GCRs,
    and publish every calendar feed.

    Safe to run again: the inventory is upserted and existing GCRs are left alone."""
    upgrade(app.engine)
    sample = demo.inventory(seed=seed, customers=customers, services=services)
    document = io.BytesIO(json.dumps(asdict(sample)).encode())
    document.name = "demo.json"
    result = import_inventory(app.session_factory(), document, settings=app.settings, actor=app.actor, fmt="json")
    for line in result.summary():
        click.echo(line)
    now = app.now()
    for data, steps in demo.gcr_documents(now, sample):
        with transaction(app.session_factory()) as session:
            if session.scalar(select(Gcr.id).where(Gcr.number == data["number"])):
                click.echo(f"{data['number']}: exists, left as it is")
                continue
            who = Who(app.actor, now, app.settings)
            change = create_gcr(session, parse_patch(data), Who(app.actor, _created_at(now, data), app.settings))
            for step in steps:
                change = change_status(session, data["number"], Status(step), who, DEMO_OVERRIDE)
            click.echo(f"{data['number']}: {change.after.status.value} ({len(data['impacts'])} services)")
    written = rebuild_all(app.session_factory(), app.settings, now)
    click.echo(f"feeds: {written.total} written to {app.settings.calendars_dir}/; "
               f"`changemgmt feeds url ACCOUNT` prints a customer's subscription URL")
