"""The queries that matter, shared by the CLI, the planner and the web."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import NotFound
from changemgmt.store.bulk import among
from changemgmt.store.models import AuditEntry, Customer, Event, Gcr, Impact, Service


def find_gcr(session: Session, number: str) -> Gcr | None:
    return session.scalar(select(Gcr).where(Gcr.number == number))


def get_gcr(session: Session, number: str) -> Gcr:
    gcr = find_gcr(session, number)
    if gcr is None:
        raise NotFound(f"no GCR {number}")
    return gcr


def gcr_version(session: Session, gcr: Gcr) -> str:
    """'revision.last audit entry id': it changes with every change to the GCR, internal
    ones (which make no revision) included. The API's ETag and the pages' stale-form check."""
    last = session.scalar(
        select(func.max(AuditEntry.id)).where(AuditEntry.entity == "gcr", AuditEntry.entity_key == gcr.number)
    )
    return f"{gcr.revision}.{last or 0}"


# Whatever writes a GCR's revision or its notices first locks the GCR, then decides from
# what it reads under the lock, so two writers (a change manager and the clock, two clocks
# during a takeover, a `plan --at` run by hand) take turns and the second one sees what
# the first one wrote. On PostgreSQL the lock is the GCR's row (SELECT ... FOR NO KEY
# UPDATE, held until the transaction ends: the lock an UPDATE of the row takes, which
# rows merely referring to the GCR do not wait for). SQLite has one writer at a time:
# a transaction that will write takes the database's write lock at its start
# (store.db.transaction, BEGIN IMMEDIATE), so there the row is simply read again.


def lock_gcr(session: Session, number: str) -> Gcr:
    """GCR `number`, locked for the rest of the transaction and read afresh (waiting
    while another transaction holds it)."""
    gcr = session.scalar(_fresh(select(Gcr).where(Gcr.number == number).with_for_update(of=Gcr, key_share=True)))
    if gcr is None:
        raise NotFound(f"no GCR {number}")
    return gcr


def try_lock_gcr(session: Session, gcr_id: int) -> Gcr | None:
    """The GCR, locked for the rest of the transaction and read afresh; None when another
    transaction holds it (PostgreSQL: SKIP LOCKED; that one is deciding, so this caller
    leaves it to its next round) or it no longer exists."""
    return session.scalar(
        _fresh(select(Gcr).where(Gcr.id == gcr_id).with_for_update(of=Gcr, key_share=True, skip_locked=True))
    )


def _fresh(statement: Select) -> Select:
    """The statement, overwriting what the session already holds of the rows it reads:
    what another transaction committed before the lock was taken must be seen."""
    return statement.execution_options(populate_existing=True)


@dataclass(frozen=True)
class ImpactedCustomer:
    customer: Customer
    enterprise: tuple[Customer, ...]  # parent, grandparent, ... (nearest first)
    service_ids: tuple[str, ...]


def impacted_customers(session: Session, gcr_id: int) -> list[ImpactedCustomer]:
    """Customers owning a service the GCR impacts, each with its enterprise parents,
    ordered by account. Inactive customers are included; callers decide what they get."""
    rows = session.execute(
        select(Customer, Service.service_id)
        .join(Service, Service.customer_id == Customer.id)
        .join(Impact, Impact.service_pk == Service.id)
        .where(Impact.gcr_id == gcr_id)
        .order_by(Customer.account, Service.service_id)
    ).all()
    grouped: dict[int, tuple[Customer, list[str]]] = {}
    for customer, service_id in rows:
        grouped.setdefault(customer.id, (customer, []))[1].append(service_id)
    return [ImpactedCustomer(customer, _ancestors(customer), tuple(ids)) for customer, ids in grouped.values()]


def _ancestors(customer: Customer) -> tuple[Customer, ...]:
    chain: list[Customer] = []
    parent = customer.parent
    while parent is not None and parent not in chain:
        chain.append(parent)
        parent = parent.parent
    return tuple(chain)


def accounts_reached(impacted: Sequence[ImpactedCustomer]) -> list[str]:
    """Every account that sees the GCR: the impacted ones and their enterprise parents."""
    accounts = {c.customer.account for c in impacted}
    accounts.update(p.account for c in impacted for p in c.enterprise)
    return sorted(accounts)


def events_json(session: Session, gcr_id: int, customer_ids: Iterable[int]) -> dict[int, dict]:
    """Each customer's calendar events of the GCR as they stand, in the form a notice row
    keeps them (`notices.events`: {window number: [sequence, modified_at ISO, cancelled]})."""
    rows = session.execute(
        select(Event.customer_id, Event.window_number, Event.sequence, Event.modified_at, Event.cancelled).where(
            Event.gcr_id == gcr_id, among(Event.customer_id, customer_ids)
        )
    )
    result: dict[int, dict] = {}
    for customer_id, window, sequence, modified_at, cancelled in rows:
        result.setdefault(customer_id, {})[str(window)] = noticed_event(sequence, modified_at, cancelled)
    return result


def noticed_event(sequence: int, modified_at: datetime, cancelled: bool) -> list:
    """One event as a notice row keeps it: [sequence, modified_at ISO (UTC), cancelled]."""
    return [sequence, modified_at.astimezone(UTC).isoformat(), cancelled]
