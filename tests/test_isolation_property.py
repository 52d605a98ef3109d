"""Whatever the inventory and the GCR, no message a customer receives names another
customer's service, account or name (DESIGN: what must never happen)."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from changemgmt.delivery.transports import InMemoryTransport
from changemgmt.delivery.worker import Worker
from changemgmt.domain.impact import Impact
from changemgmt.store import models
from changemgmt.store.db import session_factory, transaction
from conftest import empty_database
from support.gcrs import Clock, Desk

NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)
ZONES = ["UTC", "America/Chicago", "America/St_Johns", "Pacific/Honolulu", "America/Toronto"]

customer = st.fixed_dictionaries(
    {
        "zone": st.sampled_from(ZONES),
        "services": st.lists(st.sampled_from(list(Impact)), min_size=1, max_size=4),
        "contacts": st.integers(min_value=0, max_value=2),
        "parent": st.booleans(),
    }
)
inventory = st.lists(customer, min_size=2, max_size=5)


def build(session, customers) -> dict[str, set[str]]:
    """Stores the customers; returns each account's identifying strings."""
    identities, parent = {}, None
    for index, spec in enumerate(customers):
        account = f"ACCT-{index:04d}X"
        row = models.Customer(
            account=account,
            name=f"Customer Number {index:04d} Inc",
            time_zone=spec["zone"],
            parent=parent if spec["parent"] else None,
        )
        parent = parent or row if index == 0 else parent
        session.add(row)
        for c in range(spec["contacts"]):
            session.add(models.Contact(customer=row, email=f"c{c}@cust{index:04d}.example"))
        services = {f"SVC-{index:04d}-{j:03d}" for j in range(len(spec["services"]))}
        for service_id in services:
            session.add(models.Service(service_id=service_id, customer=row, product="Ethernet"))
        identities[account] = {account, row.name} | services
    session.flush()
    return identities


@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=inventory, reschedule=st.booleans(), drop_first=st.booleans())
def test_no_message_names_another_customer(engine, settings, customers, reschedule, drop_first):
    empty_database(engine)
    db = session_factory(engine)
    with transaction(db) as session:
        identities = build(session, customers)
    impacts = [
        {"service": f"SVC-{i:04d}-{j:03d}", "impact": level.value}
        for i, spec in enumerate(customers)
        for j, level in enumerate(spec["services"])
    ]
    clock = Clock(NOW)
    desk = Desk(db, settings, clock)
    start = NOW + timedelta(days=20)
    desk.publish(
        {
            "number": "GCR-1",
            "title": "Work",
            "description": "Work.",
            "impacts": impacts,
            "windows": [{"start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat()}],
        }
    )
    if reschedule:
        desk.update(
            "GCR-1",
            {
                "windows": [
                    {
                        "number": 1,
                        "start": (start + timedelta(days=1)).isoformat(),
                        "end": (start + timedelta(days=1, hours=3)).isoformat(),
                    }
                ]
            },
        )
    if drop_first:
        desk.update("GCR-1", {"impacts": [i for i in impacts if not i["service"].startswith("SVC-0000-")]})
    transport = InMemoryTransport()
    worker = Worker(engine, transport, settings, clock)
    worker.drain()
    worker.close()
    for message in transport.sent:
        own = message.ics.decode().split("X-MAINTNOTE-ACCOUNT:")[1].split("\r\n")[0]
        for recipient in message.recipients:
            copy = email.message_from_bytes(message.email_for(recipient).as_bytes(), policy=policy.default)
            said = "".join(
                [
                    str(copy),
                    *(p.get_content() for p in (copy.get_body(("plain",)), copy.get_body(("html",)))),
                    message.ics.decode(),
                ]
            )
            # An enterprise's contact is greeted by its own organisation's name, and only that.
            greeted = f"Customer Number {recipient.email.split('@cust')[1][:4]} Inc"
            for account, strings in identities.items():
                if account != own:
                    assert not [s for s in strings - {greeted} if s in said], f"{own}'s message names {account}"
    empty_database(engine)
