"""Finding GCRs: by status, by a time range their windows overlap, by a customer they
affect, by a service they impact, by a location, by words in their text. One query,
shared by `changemgmt gcr list` and the HTTP API, ordered the way change management
reads a list: what is next first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, distinct, exists, func, or_, select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.status import Status
from changemgmt.store.bulk import among
from changemgmt.store.models import Customer, Gcr, GcrLocation, Impact, Location, Service, Window


@dataclass(frozen=True)
class GcrQuery:
    """What to look for; every filter given must hold (an empty one is not applied)."""

    statuses: tuple[Status, ...] = ()
    start: datetime | None = None  # windows overlapping [start, end)
    end: datetime | None = None
    account: str | None = None  # impacting this customer's services, or those of accounts under it
    service_id: str | None = None
    location_code: str | None = None  # listed by the GCR, or an end of a service it impacts
    text: str | None = None  # in the number, title or description, in any case
    limit: int | None = None
    offset: int = 0  # GCRs skipped first, in the list's order (the API's pages)


@dataclass(frozen=True)
class WindowTimes:
    number: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class GcrSummary:
    number: str
    title: str
    status: Status
    emergency: bool
    revision: int
    windows: tuple[WindowTimes, ...]  # not dropped, by number
    services: int
    customers: int
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "status": self.status.value,
            "emergency": self.emergency,
            "revision": self.revision,
            "windows": [{"number": w.number, "start": _iso(w.start), "end": _iso(w.end)} for w in self.windows],
            "services": self.services,
            "customers": self.customers,
            "updated_at": _iso(self.updated_at),
        }

    def window_at(self, now: datetime) -> WindowTimes | None:
        """The window that matters at `now`: the first not yet over, else the last."""
        upcoming = [w for w in self.windows if w.end > now]
        if upcoming:
            return min(upcoming, key=lambda w: w.start)
        return max(self.windows, key=lambda w: w.end, default=None)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def list_gcrs(session: Session, query: GcrQuery, now: datetime) -> list[GcrSummary]:
    """The GCRs matching `query`: those with a window not yet over first, soonest first;
    then the others, the most recently ended first. Unknown accounts and services are
    NotFound, an empty range a DomainError."""
    if query.start and query.end and query.end <= query.start:
        raise DomainError("--to", "must be after --from")
    times = _window_times(now)
    statement = (
        select(Gcr)
        .outerjoin(times, times.c.gcr_id == Gcr.id)
        .order_by(times.c.next_start.is_(None), times.c.next_start, times.c.last_end.desc(), Gcr.number)
    )
    for condition in _conditions(session, query):
        statement = statement.where(condition)
    if query.limit:
        statement = statement.limit(query.limit)
    if query.offset:
        statement = statement.offset(query.offset)
    gcrs = list(session.scalars(statement))
    return _summaries(session, gcrs)


def _window_times(now: datetime):
    """Per GCR: the start of its first window not over at `now`, and its last end."""
    return (
        select(
            Window.gcr_id,
            func.min(case((Window.ends_at > now, Window.starts_at))).label("next_start"),
            func.max(Window.ends_at).label("last_end"),
        )
        .where(Window.dropped_at.is_(None))
        .group_by(Window.gcr_id)
        .subquery()
    )


def _conditions(session: Session, query: GcrQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.statuses:
        conditions.append(Gcr.status.in_([s.value for s in query.statuses]))
    if query.start or query.end:
        overlapping = [Window.gcr_id == Gcr.id, Window.dropped_at.is_(None)]
        if query.end:
            overlapping.append(Window.starts_at < query.end)
        if query.start:
            overlapping.append(Window.ends_at > query.start)
        conditions.append(exists(select(Window.id).where(*overlapping)))
    if query.service_id is not None:
        service = session.scalar(select(Service.id).where(Service.service_id == query.service_id))
        if service is None:
            raise NotFound(f"no service with ID {query.service_id}")
        conditions.append(exists(_impacts().where(Impact.service_pk == service)))
    if query.location_code is not None:
        conditions.append(_at_location(session, query.location_code))
    if query.text:
        words = query.text.lower()
        conditions.append(
            or_(*(func.lower(c).contains(words, autoescape=True) for c in (Gcr.number, Gcr.title, Gcr.description)))
        )
    if query.account is not None:
        accounts = _account_and_below(session, query.account)
        conditions.append(
            exists(
                _impacts().join(Service, Service.id == Impact.service_pk).where(among(Service.customer_id, accounts))
            )
        )
    return conditions


def _at_location(session: Session, code: str) -> ColumnElement[bool]:
    location = session.scalar(select(Location.id).where(Location.code == code))
    if location is None:
        raise NotFound(f"no location with code {code}")
    ends = or_(Service.a_end_id == location, Service.z_end_id == location)
    return or_(
        exists(select(GcrLocation.gcr_id).where(GcrLocation.gcr_id == Gcr.id, GcrLocation.location_id == location)),
        exists(_impacts().join(Service, Service.id == Impact.service_pk).where(ends)),
    )


def _impacts() -> Select:
    return select(Impact.id).where(Impact.gcr_id == Gcr.id)


def _account_and_below(session: Session, account: str) -> list[int]:
    """The customer's id and those of every account under it (an enterprise's children,
    their children, ...)."""
    customer = session.scalar(select(Customer.id).where(Customer.account == account))
    if customer is None:
        raise NotFound(f"no customer with account {account}")
    found, frontier = {customer}, [customer]
    while frontier:
        frontier = [
            c for c in session.scalars(select(Customer.id).where(among(Customer.parent_id, frontier))) if c not in found
        ]
        found.update(frontier)
    return sorted(found)


def _summaries(session: Session, gcrs: list[Gcr]) -> list[GcrSummary]:
    ids = [g.id for g in gcrs]
    if not ids:
        return []
    windows: dict[int, list[WindowTimes]] = {}
    for w in session.scalars(
        select(Window)
        .where(among(Window.gcr_id, ids), Window.dropped_at.is_(None))
        .order_by(Window.gcr_id, Window.number)
    ):
        windows.setdefault(w.gcr_id, []).append(WindowTimes(w.number, w.starts_at, w.ends_at))
    counts = {
        gcr_id: (services, customers)
        for gcr_id, services, customers in session.execute(
            select(Impact.gcr_id, func.count(Impact.id), func.count(distinct(Service.customer_id)))
            .join(Service, Service.id == Impact.service_pk)
            .where(among(Impact.gcr_id, ids))
            .group_by(Impact.gcr_id)
        )
    }
    return [
        GcrSummary(
            g.number,
            g.title,
            Status(g.status),
            g.emergency,
            g.revision,
            tuple(windows.get(g.id, ())),
            *counts.get(g.id, (0, 0)),
            g.updated_at,
        )
        for g in gcrs
    ]
