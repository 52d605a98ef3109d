"""Customers' feed events, built with the shared event builder from their Event rows.

Each event says what the GCR said at the revision that last changed it (Event.sequence):
the same content, UID and SEQUENCE as the email attachment planned at or after that
revision, with DTSTAMP = LAST-MODIFIED = that revision's time (SPEC §3.1). Only the
customer's own services appear, from its own inventory rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.content.ical import EventFacts, event_bytes
from changemgmt.content.lines import service_line
from changemgmt.content.view import WindowView
from changemgmt.domain.gcr import Contact, GcrState, ServiceImpact
from changemgmt.domain.retention import retention_cutoff
from changemgmt.feeds.blocks import Block, keeps, parse_block
from changemgmt.feeds.services import services_by_customer
from changemgmt.store import models
from changemgmt.store.models import Customer, Event, Service
from changemgmt.store.revisions import ImpactHistory, impact_history, revision_states

CHUNK = 400


class States:
    """GCR states without their impacts by (gcr id, revision), each read and parsed once
    per rebuild."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._states: dict[tuple[int, int], GcrState] = {}

    def load(self, pairs: Iterable[tuple[int, int]]) -> None:
        self._states.update(revision_states(self.session, {p for p in pairs if p not in self._states}))

    def state(self, gcr_id: int, number: int) -> GcrState | None:
        return self._states.get((gcr_id, number))


def organizer(state: GcrState, settings: Settings) -> Contact:
    """The GCR's contact, or Change Management (as the email attachment has it)."""
    if state.contact and state.contact.email:
        return state.contact
    return Contact(settings.cm_name, settings.cm_email, settings.cm_phone)


def _event_rows(session: Session, customer_ids: list[int], cutoff: datetime) -> Sequence[Row]:
    # Rows surely aged out are left in the database; `keeps` decides on the times shown.
    return session.execute(
        select(
            Event.customer_id,
            Event.gcr_id,
            Event.window_number,
            Event.sequence,
            Event.modified_at,
            Event.cancelled,
            models.Window.starts_at,
            models.Window.ends_at,
        )
        .join(models.Window, and_(models.Window.gcr_id == Event.gcr_id, models.Window.number == Event.window_number))
        .where(
            Event.customer_id.in_(customer_ids),
            or_(
                models.Window.ends_at >= cutoff,
                Event.modified_at >= cutoff,
                models.Window.times_set_at > Event.modified_at,
            ),
        )
    ).all()


def customer_blocks(
    session: Session, customer_ids: Collection[int], settings: Settings, now: datetime, states: States | None = None
) -> dict[int, list[Block]]:
    """The feed events of each active customer given (an inactive one gets none).
    Pass `states` to share parsed revisions between calls."""
    result: dict[int, list[Block]] = {cid: [] for cid in customer_ids}
    states = states or States(session)
    ids = sorted(customer_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        customers = {
            c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(chunk), Customer.active.is_(True)))
        }
        cutoff = retention_cutoff(now, settings.feed_retention_days)
        rows = _event_rows(session, list(customers), cutoff)
        impacts = impact_history(session, {r.gcr_id for r in rows}, list(customers))
        builder = _Builder(states, impacts, settings, cutoff, services_by_customer(session, list(customers)))
        for customer_id, block in builder.build(customers, rows):
            result[customer_id].append(block)
    return result


class _Builder:
    """Builds the blocks of a chunk of customers' event rows."""

    def __init__(
        self,
        states: States,
        impacts: ImpactHistory,
        settings: Settings,
        cutoff: datetime,
        owned: dict[int, dict[str, Service]],
    ) -> None:
        self.states, self.impacts, self.settings, self.cutoff, self.owned = states, impacts, settings, cutoff, owned

    def build(self, customers: dict[int, Customer], rows: Sequence[Row]) -> Iterable[tuple[int, Block]]:
        self.states.load((r.gcr_id, r.sequence) for r in rows)
        facts: dict[tuple[int, int, int], EventFacts | None] = {}
        for row in rows:
            key = (row.customer_id, row.gcr_id, row.sequence)
            if key not in facts:
                facts[key] = self._facts(row, customers[row.customer_id])
            event_facts = facts[key]
            if event_facts is None:
                continue
            block = parse_block(
                event_bytes(
                    event_facts, self._window(row), provider_domain=self.settings.provider_domain, stamp=row.modified_at
                )
            )
            if keeps(block, self.cutoff):
                yield row.customer_id, block

    def _own(self, row, back: int) -> tuple[ServiceImpact, ...]:
        return self.impacts.at(row.gcr_id, row.sequence - back, row.customer_id)

    def _facts(self, row, customer: Customer) -> EventFacts | None:
        state = self.states.state(row.gcr_id, row.sequence)
        if state is None:
            return None
        # A customer dropped from scope keeps a CANCELLED event that still lists its
        # services: they are in the revision before the one that dropped it.
        impacts = self._own(row, 0) or (self._own(row, 1) if row.sequence > 1 else [])
        owned = self.owned.get(row.customer_id, {})
        return EventFacts(
            gcr_number=state.number,
            title=state.title,
            description=state.description,
            reason=state.reason,
            work_location=state.work_location,
            status=state.status,
            emergency=state.emergency,
            organizer=organizer(state, self.settings),
            account=customer.account,
            time_zone=customer.time_zone,
            services=tuple(service_line(owned[i.service_id], i) for i in impacts),
        )

    def _window(self, row) -> WindowView:
        state = self.states.state(row.gcr_id, row.sequence)
        shown = next((w for w in state.windows if w.number == row.window_number), None) if state else None
        start, end = (shown.start, shown.end) if shown else (row.starts_at, row.ends_at)
        return WindowView(row.window_number, start, end, row.sequence, row.modified_at, cancelled=row.cancelled)
