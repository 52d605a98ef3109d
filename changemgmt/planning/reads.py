"""Loading, for one GCR, what the planner needs to know of each customer: its services in
scope, its standing, pending notices, contacts. Bulk queries, a chunk of customers at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from typing import NamedTuple

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from changemgmt.domain.digests import Digest
from changemgmt.domain.gcr import ServiceImpact, in_service_order
from changemgmt.domain.impact import stored_impact
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.planner import PendingNotice, Standing
from changemgmt.domain.recipients import ContactPrefs
from changemgmt.domain.states import DeliveryState, NoticeState
from changemgmt.store import models
from changemgmt.store.bulk import among
from changemgmt.store.models import Audience, Contact, Customer, Delivery, Notice, Recipient, Service


class Scope(NamedTuple):
    """What the GCR impacts now of some customers' services (active customers only)."""

    services: dict[int, frozenset[str]]  # impacted service IDs by customer
    impacts: dict[int, tuple[ServiceImpact, ...]]  # by customer, in service ID order


def scope_of(session: Session, gcr_id: int, customer_ids: Collection[int]) -> Scope:
    rows = session.execute(
        _impacted(
            gcr_id, Service.customer_id, Service.service_id, models.Impact.level, models.Impact.max_outage_minutes
        ).where(among(Service.customer_id, customer_ids))
    )
    grouped: dict[int, list[ServiceImpact]] = defaultdict(list)
    for customer_id, service_id, level, minutes in rows:
        grouped[customer_id].append(ServiceImpact(service_id, stored_impact(level), minutes))
    return Scope(
        {cid: frozenset(i.service_id for i in impacts) for cid, impacts in grouped.items()},
        {cid: in_service_order(impacts) for cid, impacts in grouped.items()},
    )


def customers_to_plan(session: Session, gcr_id: int) -> list[int]:
    """Ids of the active customers the GCR impacts now and of those it was in scope of
    (they may need a "no longer affects you"), in order."""
    impacted = session.scalars(_impacted(gcr_id, Service.customer_id).distinct())
    return sorted(set(impacted) | set(in_scope_customers(session, gcr_id)))


def in_scope_customers(session: Session, gcr_id: int) -> list[int]:
    """Ids of the customers the GCR was in scope of when last planned."""
    return list(
        session.scalars(select(Audience.customer_id).where(Audience.gcr_id == gcr_id, Audience.in_scope.is_(True)))
    )


def customers_with_pending(session: Session, gcr_id: int) -> set[int]:
    """Ids of the customers with a notice about the GCR that is pending and not in flight."""
    return set(
        session.scalars(
            select(Notice.customer_id)
            .distinct()
            .where(Notice.gcr_id == gcr_id, Notice.state == NoticeState.PENDING, ~_in_flight())
        )
    )


def _impacted(gcr_id: int, *columns):
    """`columns` of the services of active customers that the GCR impacts now."""
    return (
        select(*columns)
        .join(models.Impact, models.Impact.service_pk == Service.id)
        .join(Customer, Customer.id == Service.customer_id)
        .where(models.Impact.gcr_id == gcr_id, Customer.active.is_(True))
    )


def audiences(session: Session, gcr_id: int, customer_ids: Collection[int] | None = None) -> dict[int, Audience]:
    """The GCR's audience rows by customer: every one, or the given customers'."""
    query = select(Audience).where(Audience.gcr_id == gcr_id)
    if customer_ids is not None:
        query = query.where(among(Audience.customer_id, customer_ids))
    return {a.customer_id: a for a in session.scalars(query)}


def standings(
    session: Session, gcr_id: int, customer_ids: list[int], known: dict[int, Audience]
) -> dict[int, Standing]:
    # Every notice is planned with its customer's audience row: a customer without one has
    # none to look up. Publishing to 20,000 customers then asks nothing here, where asking
    # in a transaction that has just grown `notices` far beyond its statistics can cost
    # seconds a chunk (the planner expects a handful of rows).
    planned_before = [customer_id for customer_id in customer_ids if customer_id in known]
    pending = _pending(session, gcr_id, planned_before) if planned_before else {}
    delivered = _delivered(session, gcr_id, planned_before) if planned_before else set()
    return {
        customer_id: standing_of(known.get(customer_id), customer_id in delivered, tuple(pending.get(customer_id, ())))
        for customer_id in customer_ids
    }


def standing_of(row: Audience | None, delivered: bool = False, pending: tuple[PendingNotice, ...] = ()) -> Standing:
    """A customer's standing from its audience row. Without `delivered` and `pending`, it
    is enough for reminders, which depend only on whether and when it was notified."""
    # the two digests are written together
    shown = Digest(row.shown_windows, row.shown_content) if row and row.shown_windows and row.shown_content else None
    return Standing(
        in_scope=bool(row and row.in_scope),
        notified=bool(row and row.notified),
        notified_at=row.notified_at if row else None,
        delivered=delivered,
        shown_revision=row.shown_revision if row else None,
        shown=shown,
        pending=pending,
    )


# A delivery a worker has taken or sent: its notice counts as delivered, and is not skipped.
_TAKEN = (DeliveryState.SENDING, DeliveryState.SENT)
# A delivery that has reached its recipients, or will unless skipped before it is claimed.
_REACHING = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.SENT)


def _in_flight():
    return exists().where(Delivery.notice_id == Notice.id, Delivery.state.in_(_TAKEN))


def _pending(session: Session, gcr_id: int, customer_ids: list[int]) -> dict[int, list[PendingNotice]]:
    rows = session.execute(
        select(Notice.id, Notice.customer_id, Notice.kind, Notice.window_number, Notice.due_at)
        .where(
            Notice.gcr_id == gcr_id,
            among(Notice.customer_id, customer_ids),
            Notice.state == NoticeState.PENDING,
            ~_in_flight(),
        )
        .order_by(Notice.id)
    )
    grouped: dict[int, list[PendingNotice]] = defaultdict(list)
    for notice_id, customer_id, kind, window, due_at in rows:
        grouped[customer_id].append(PendingNotice(notice_id, NoticeKind(kind), window, due_at))
    return grouped


def _delivered(session: Session, gcr_id: int, customer_ids: list[int]) -> set[int]:
    rows = session.scalars(
        select(Notice.customer_id)
        .distinct()
        .where(
            Notice.gcr_id == gcr_id,
            among(Notice.customer_id, customer_ids),
            (Notice.state == NoticeState.SENT) | _in_flight(),
        )
    )
    return set(rows)


def contacts_by_customer(session: Session, customer_ids: Iterable[int]) -> dict[int, list[ContactPrefs]]:
    """Each customer's contacts, then its enterprise parents' contacts (SPEC §1)."""
    customer_ids = list(customer_ids)
    parents = _parents(session, customer_ids)
    chains = {cid: _chain(session, cid, parents) for cid in customer_ids}
    wanted = {c for chain in chains.values() for c in chain}
    own: dict[int, list[ContactPrefs]] = defaultdict(list)
    for row in session.execute(select(*CONTACT_COLUMNS).where(among(Contact.customer_id, wanted)).order_by(Contact.id)):
        own[row.customer_id].append(_prefs(row))
    return {cid: [c for owner in chains[cid] for c in own.get(owner, [])] for cid in customer_ids}


def _parents(session: Session, customer_ids: list[int]) -> dict[int, int | None]:
    """Parent ids of the customers and of all their ancestors: one query per level of the
    hierarchy, where walking each chain would ask once per enterprise."""
    parents: dict[int, int | None] = {}
    wanted = set(customer_ids)
    while wanted:
        query = select(Customer.id, Customer.parent_id).where(among(Customer.id, sorted(wanted)))
        found = dict(session.execute(query).all())
        parents.update({cid: found.get(cid) for cid in wanted})
        wanted = {p for p in found.values() if p is not None and p not in parents}
    return parents


def _chain(session: Session, customer_id: int, parents: dict[int, int | None]) -> list[int]:
    chain = [customer_id]
    parent = parents.get(customer_id)
    while parent is not None and parent not in chain:
        chain.append(parent)
        if parent not in parents:
            parents[parent] = session.scalar(select(Customer.parent_id).where(Customer.id == parent))
        parent = parents[parent]
    return chain


# Columns, not Contact objects: planning reads tens of thousands of them.
CONTACT_COLUMNS = (
    Contact.id,
    Contact.customer_id,
    Contact.email,
    Contact.name,
    Contact.notice_kinds,
    Contact.min_impact,
    Contact.reminders,
    Contact.unsubscribed_at,
    Contact.suppressed_at,
)


def _prefs(row) -> ContactPrefs:
    kinds = frozenset(NoticeKind(k) for k in row.notice_kinds) if row.notice_kinds is not None else None
    return ContactPrefs(
        row.id,
        row.email,
        row.name,
        kinds,
        stored_impact(row.min_impact),
        row.reminders,
        row.unsubscribed_at,
        row.suppressed_at,
    )


def heard_contacts(session: Session, gcr_id: int, contact_ids: Iterable[int], until: int | None = None) -> set[int]:
    """Contacts that already received a notice about the GCR (sent or in flight); with
    `until`, only through the notices up to that id."""
    ids = list(contact_ids)
    if not ids:
        return set()
    query = (
        select(Recipient.contact_id)
        .distinct()
        .join(Notice, Notice.id == Recipient.notice_id)
        .join(Delivery, Delivery.id == Recipient.delivery_id)
        .where(and_(Notice.gcr_id == gcr_id, among(Recipient.contact_id, ids), Delivery.state.in_(_REACHING)))
    )
    if until is not None:
        query = query.where(Notice.id <= until)
    return set(session.scalars(query))


def last_notice_id(session: Session, gcr_id: int) -> int:
    """The id of the GCR's latest notice (0: none yet)."""
    return session.scalar(select(func.max(Notice.id)).where(Notice.gcr_id == gcr_id)) or 0
