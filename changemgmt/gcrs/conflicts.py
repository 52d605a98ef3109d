"""Finding conflicts (SPEC §8): other published GCRs whose windows overlap and which impact
the same service, customer or work location. `conflicts_of` serves a change (create,
reschedule, publish); `conflicts_between` lists every conflict in a period (the API's
GET /api/v1/conflicts)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from changemgmt.domain.conflicts import Conflict, Shared, overlapping_windows
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window
from changemgmt.store import models
from changemgmt.store.queries import get_gcr

PERIOD = timedelta(days=90)  # what `conflicts` looks at when not told where it ends
# The statuses of GCRs others can conflict with: customers know of them, and the work is to come or going on.
PUBLISHED = (Status.TENTATIVE.value, Status.CONFIRMED.value, Status.IN_PROGRESS.value)


def _windows(session: Session, gcr_ids: Collection[int]) -> dict[int, list[Window]]:
    rows = session.execute(
        select(models.Window.gcr_id, models.Window.number, models.Window.starts_at, models.Window.ends_at).where(
            models.Window.gcr_id.in_(gcr_ids), models.Window.dropped_at.is_(None)
        )
    )
    found: dict[int, list[Window]] = defaultdict(list)
    for gcr_id, number, start, end in rows:
        found[gcr_id].append(Window(number, start, end))
    return found


def _overlapping(session: Session, windows: list[Window], exclude: int | None) -> list[models.Gcr]:
    """Published GCRs (but `exclude`) with an active window overlapping one of `windows`."""
    if not windows:
        return []
    start, end = min(w.start for w in windows), max(w.end for w in windows)
    query = (
        select(models.Gcr)
        .join(models.Window, models.Window.gcr_id == models.Gcr.id)
        .where(
            models.Gcr.status.in_(PUBLISHED),
            models.Window.dropped_at.is_(None),
            models.Window.starts_at < end,
            models.Window.ends_at > start,
        )
        .distinct()
        .order_by(models.Gcr.number)
    )
    if exclude is not None:
        query = query.where(models.Gcr.id != exclude)
    return list(session.scalars(query))


def _shared_services(session: Session, a: int, b: int) -> Shared:
    mine, theirs = aliased(models.Impact), aliased(models.Impact)
    return Shared.of(
        session.scalars(
            select(models.Service.service_id)
            .join(mine, mine.service_pk == models.Service.id)
            .join(theirs, theirs.service_pk == models.Service.id)
            .where(mine.gcr_id == a, theirs.gcr_id == b)
        )
    )


def _customers(session: Session, gcr_id: int):
    return (
        select(models.Customer.account)
        .join(models.Service, models.Service.customer_id == models.Customer.id)
        .join(models.Impact, models.Impact.service_pk == models.Service.id)
        .where(models.Impact.gcr_id == gcr_id)
    )


def _shared_customers(session: Session, a: int, b: int) -> Shared:
    return Shared.of(session.scalars(_customers(session, a).intersect(_customers(session, b))))


def _shared_locations(session: Session, a: int, b: int) -> Shared:
    mine, theirs = aliased(models.GcrLocation), aliased(models.GcrLocation)
    return Shared.of(
        session.scalars(
            select(models.Location.code)
            .join(mine, mine.location_id == models.Location.id)
            .join(theirs, theirs.location_id == models.Location.id)
            .where(mine.gcr_id == a, theirs.gcr_id == b)
        )
    )


def _conflict(session: Session, gcr_id: int, windows: list[Window], other: models.Gcr, theirs: list[Window]):
    pairs = overlapping_windows(windows, theirs)
    if not pairs:
        return None
    services = _shared_services(session, gcr_id, other.id)
    customers = _shared_customers(session, gcr_id, other.id)
    locations = _shared_locations(session, gcr_id, other.id)
    if not (services or customers or locations):
        return None
    return Conflict(other.number, other.title, other.status, pairs, services, customers, locations)


def conflicts_of(session: Session, gcr: models.Gcr) -> tuple[Conflict, ...]:
    """The published GCRs `gcr` conflicts with, by number (its own rows as written in
    this transaction: call it after the change is flushed)."""
    session.flush()
    windows = _windows(session, [gcr.id]).get(gcr.id, [])
    others = _overlapping(session, windows, exclude=gcr.id)
    theirs = _windows(session, [o.id for o in others])
    found = (_conflict(session, gcr.id, windows, other, theirs.get(other.id, [])) for other in others)
    return tuple(c for c in found if c is not None)


def conflicts_of_number(session: Session, number: str) -> tuple[Conflict, ...]:
    """The conflicts of GCR `number` (NotFound when there is none)."""
    return conflicts_of(session, get_gcr(session, number))


@dataclass(frozen=True)
class ConflictPair:
    """Two published GCRs that conflict: `conflict` is the second as seen from the first."""

    number: str
    conflict: Conflict

    def to_json(self) -> dict[str, Any]:
        return {"gcr": self.number, "conflicts_with": self.conflict.to_json()}

    def describe(self) -> str:
        return f"{self.number} conflicts with {self.conflict.describe()}"


def conflicts_between(session: Session, start: datetime, end: datetime) -> list[ConflictPair]:
    """Every pair of published GCRs that conflict with windows overlapping [start, end),
    each pair once (by GCR number), only their windows in the period compared."""
    probe = [Window(0, start, end)]
    gcrs = _overlapping(session, probe, exclude=None)
    windows = _windows(session, [g.id for g in gcrs])
    within = {
        g.id: [w for w in windows.get(g.id, []) if overlapping_windows([w], probe)] for g in gcrs
    }  # only the windows in the period
    pairs = []
    for index, first in enumerate(gcrs):
        for second in gcrs[index + 1 :]:
            conflict = _conflict(session, first.id, within[first.id], second, within[second.id])
            if conflict is not None:
                pairs.append(ConflictPair(first.number, conflict))
    return pairs
