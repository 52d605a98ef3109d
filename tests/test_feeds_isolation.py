"""Whatever the inventory, the hierarchy and the GCRs, no feed names a customer it does
not cover: a customer's feed names only that customer, an enterprise's feed only the
accounts below it (DESIGN: what must never happen)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from changemgmt.domain.status import Status
from changemgmt.feeds.publisher import rebuild_all, rebuild_dirty
from changemgmt.feeds.registry import Scope, parse_key, with_token
from changemgmt.store import models
from changemgmt.store.db import session_factory, transaction
from conftest import empty_database
from support.feeds import parse
from support.gcrs import Clock, Desk

NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)
ZONES = ["UTC", "America/Chicago", "Asia/Kolkata", "Europe/Berlin"]

customer = st.fixed_dictionaries(
    {
        "zone": st.sampled_from(ZONES),
        "services": st.integers(min_value=1, max_value=3),
        "parent": st.integers(min_value=-1, max_value=5),  # an earlier customer's index, or none
        "active": st.sampled_from([True, True, True, False]),
    }
)
gcr = st.fixed_dictionaries(
    {
        "picks": st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
        "then": st.sampled_from(["nothing", "reschedule", "drop", "cancel"]),
    }
)


def build(session, specs) -> tuple[dict[int, set[str]], list[str]]:
    """Stores the customers; returns each one's identifying strings by id (its account
    first in sorted order), and every service."""
    rows, identities, services = [], {}, []
    for index, spec in enumerate(specs):
        parent = rows[spec["parent"]] if 0 <= spec["parent"] < index else None
        row = models.Customer(
            account=f"ACCT-{index:04d}X",
            name=f"Customer Number {index:04d} Inc",
            time_zone=spec["zone"],
            parent=parent,
            active=spec["active"],
        )
        owned = [f"SVC-{index:04d}-{n:03d}" for n in range(spec["services"])]
        session.add_all([row, *(models.Service(service_id=s, customer=row, product="Ethernet") for s in owned)])
        rows.append(row)
        services += owned
        session.flush()
        identities[row.id] = {row.account, row.name, *owned}
    return identities, services


def run_gcrs(desk: Desk, clock: Clock, gcrs, services: list[str]) -> set[str]:
    """Publishes and changes the GCRs; returns every service they ever impacted."""
    impacted: set[str] = set()
    for number, spec in enumerate(gcrs):
        picked = sorted({services[p % len(services)] for p in spec["picks"]})
        impacted.update(picked)
        start = NOW + timedelta(days=20 + number)
        windows = [{"start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat()}]
        document = {
            "number": f"GCR-{number}",
            "title": "Maintenance",
            "description": "Work.",
            "windows": windows,
            "impacts": [{"service": s, "impact": "OUTAGE"} for s in picked],
        }
        desk.publish(document)
        clock.advance(minutes=5)
        if spec["then"] == "reschedule":
            later = start + timedelta(days=1)
            desk.update(
                f"GCR-{number}",
                {
                    "windows": [
                        {"number": 1, "start": later.isoformat(), "end": (later + timedelta(hours=2)).isoformat()}
                    ]
                },
            )
        elif spec["then"] == "drop" and len(picked) > 1:
            desk.update(f"GCR-{number}", {"impacts": [{"service": s, "impact": "DEGRADED"} for s in picked[1:]]})
        elif spec["then"] == "cancel":
            desk.status(f"GCR-{number}", Status.CANCELLED)
    return impacted


def below(customer_id: int, parents: dict[int, int | None]) -> set[int]:
    """The customer and every account under it."""
    found = {customer_id}
    changed = True
    while changed:
        grown = {cid for cid, parent in parents.items() if parent in found}
        changed = not grown <= found
        found |= grown
    return found


@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(customer, min_size=2, max_size=6),
    gcrs=st.lists(gcr, min_size=1, max_size=3),
    rebuild_first=st.booleans(),
)
def test_no_feed_names_a_customer_it_does_not_cover(engine, settings, tmp_path_factory, specs, gcrs, rebuild_first):
    empty_database(engine)
    db = session_factory(engine)
    settings = dataclasses.replace(settings, calendars_dir=tmp_path_factory.mktemp("calendars"))
    with transaction(db) as session:
        identities, services = build(session, specs)
    clock = Clock(NOW)
    if rebuild_first:  # feeds exist before the GCRs, and follow them through the requests
        rebuild_all(db, settings, clock())
    impacted = run_gcrs(Desk(db, settings, clock), clock, gcrs, services)
    rebuild_dirty(db, settings, clock()) if rebuild_first else rebuild_all(db, settings, clock())
    with db() as session:
        parents = dict(session.execute(select(models.Customer.id, models.Customer.parent_id)).all())
        active = set(session.scalars(select(models.Customer.id).where(models.Customer.active.is_(True))))
        feeds = [with_token(f, settings) for f in session.scalars(select(models.Feed))]
    for feed in feeds:
        if feed.scope is Scope.INTERNAL:
            continue
        data = (settings.calendars_dir / feed.file_name).read_bytes()
        text = b"".join(data.split(b"\r\n ")).decode()  # unfolded
        parse(data)
        _, owner = parse_key(feed.feed.key)
        covered = below(owner, parents) if feed.scope is Scope.ENTERPRISE else {owner}
        for other, strings in identities.items():
            if other not in covered:
                assert not [s for s in strings if s in text], f"{feed.feed.key} names customer {other}"
            elif other in active and owner in active and strings & impacted:
                account = sorted(strings)[0]
                assert f"X-MAINTNOTE-ACCOUNT:{account}" in text  # and it does show its own events
    empty_database(engine)
