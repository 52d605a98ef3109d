"""Calendar events per (GCR, window, customer): their SEQUENCE is the last revision that
changed what that customer's event says (SPEC §3.1), so moving window 2 leaves window 1
alone, and a change to another customer's services leaves this one's event untouched."""

from __future__ import annotations

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
    existing = {
        (row.customer_id, row.window_number): row
        for row in session.scalars(select(Event).where(Event.gcr_id == gcr.id, among(Event.customer_id, services)))
    }
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
    insert_rows(
        session,
        Event.__table__,
        values,
        conflict=("gcr_id", "customer_id", "window_number"),
        update=("digest", "sequence", "modified_at", "cancelled"),
    )
    changed = {value["customer_id"] for value in values}
    request_rebuilds(session, gcr.id, changed, now)
    return changed
