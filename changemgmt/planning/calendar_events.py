"""Calendar events per (GCR, window, customer): their SEQUENCE is the last revision that
changed what that customer's event says (SPEC §3.1), so moving window 2 leaves window 1
alone, and a change to another customer's services leaves this one's event untouched."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.domain.digests import customer_digest, event_digest
from changemgmt.domain.gcr import GcrState
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window
from changemgmt.feeds.rebuilds import request_rebuilds
from changemgmt.store.bulk import among, insert_rows
from changemgmt.store.models import Event, Gcr
from changemgmt.store.queries import noticed_event


@dataclass
class EventChanges:
    """What a revision changes in some customers' events, not yet written."""

    gcr_id: int
    rows: list[dict[str, Any]]  # the events that change, as written
    # Each customer's events after the change, as a notice row keeps them (store.queries.events_json).
    as_noticed: dict[int, dict[str, list]]

    @property
    def changed(self) -> set[int]:
        """The ids of the customers whose events change."""
        return {row["customer_id"] for row in self.rows}


def sync_events(
    session: Session,
    gcr: Gcr,
    state: GcrState,
    revision: int,
    services: dict[int, frozenset[str]],
    now: datetime,
    contents: dict[int, str] | None = None,
) -> set[int]:
    """Brings the events of the given customers in line with `state`, and records that
    their feeds must be rebuilt; returns the ids of the customers whose events changed.
    `contents`: each customer's customer_digest(state, services).content, if known."""
    changes = event_changes(gcr, state, revision, services, now, existing_events(session, gcr.id, services), contents)
    write_event_changes(session, changes, now)
    return changes.changed


def existing_events(session: Session, gcr_id: int, customer_ids: Collection[int]) -> dict[tuple[int, int], Event]:
    """The GCR's events of these customers, by (customer id, window number)."""
    return {
        (row.customer_id, row.window_number): row
        for row in session.scalars(select(Event).where(Event.gcr_id == gcr_id, among(Event.customer_id, customer_ids)))
    }


def event_changes(
    gcr: Gcr,
    state: GcrState,
    revision: int,
    services: dict[int, frozenset[str]],
    now: datetime,
    existing: dict[tuple[int, int], Event],
    contents: dict[int, str] | None = None,
) -> EventChanges:
    """What sync_events writes, from the customers' `existing_events`."""
    values: list[dict[str, Any]] = []
    for customer_id, own in services.items():
        content = contents[customer_id] if contents is not None else customer_digest(state, own).content
        for row in gcr.windows:
            old = existing.get((customer_id, row.number))
            cancelled = row.dropped_at is not None or not own or state.status is Status.CANCELLED
            if (old is None and cancelled) or (old is not None and old.cancelled and not own):
                continue
            window = Window(row.number, row.starts_at, row.ends_at)
            status = "CANCELLED" if cancelled else state.status.ical_status
            digest = event_digest(content, window, cancelled, status)
            if old is None or old.digest != digest:
                values.append(
                    {
                        "gcr_id": gcr.id,
                        "customer_id": customer_id,
                        "window_number": row.number,
                        "digest": digest,
                        "sequence": revision,
                        "modified_at": now,
                        "cancelled": cancelled,
                    }
                )
    standing = {key: (row.sequence, row.modified_at, row.cancelled) for key, row in existing.items()}
    standing.update({(v["customer_id"], v["window_number"]): (v["sequence"], now, v["cancelled"]) for v in values})
    as_noticed: dict[int, dict[str, list]] = {}
    for (customer_id, number), (sequence, modified_at, cancelled) in standing.items():
        as_noticed.setdefault(customer_id, {})[str(number)] = noticed_event(sequence, modified_at, cancelled)
    return EventChanges(gcr.id, values, as_noticed)


def write_event_changes(session: Session, changes: EventChanges, now: datetime) -> None:
    """Writes the changed events, and records that their customers' feeds must be rebuilt."""
    request_rebuilds(session, changes.gcr_id, changes.changed, now)
    insert_rows(
        session,
        Event.__table__,
        changes.rows,
        conflict=("gcr_id", "customer_id", "window_number"),
        update=("digest", "sequence", "modified_at", "cancelled"),
    )
