"""Turning notice rows into NoticeViews: what each one says, from the GCR revision it was
planned at, with only its own customer's services. Batched: a handful of queries for a
whole batch of notices, and each revision is parsed once."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session, aliased

from changemgmt.config import Settings
from changemgmt.domain.content import own_impacts
from changemgmt.domain.gcr import Contact, GcrState, ServiceImpact
from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind
from changemgmt.feeds.lines import service_line as _line
from changemgmt.notify.changes import change_lines
from changemgmt.notify.view import CustomerView, NoticeView, Recipient, WindowView
from changemgmt.store.models import Contact as ContactRow
from changemgmt.store.models import Customer, Location, Notice, Revision, Service
from changemgmt.store.models import Recipient as RecipientRow
from changemgmt.store.models import Window as WindowRow
from changemgmt.tokens import unsubscribe_token


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class _Parsed:
    """A revision's state without its impacts, and the impacts by service ID. A GCR over
    100,000 services costs this index, not 100,000 parsed dicts and objects."""

    base: GcrState  # impacts=()
    positions: dict[str, int]  # service ID -> index in the revision's impacts
    values: list[tuple[Impact, int | None]]  # (impact, max outage) by index; equal ones shared

    @classmethod
    def read(cls, text: str) -> "_Parsed | GcrState":
        """Reads the revision's JSON one impact at a time; returns the whole GcrState
        instead if a service appears twice (own_impacts then keeps both)."""
        document, positions, values, shared = {}, {}, [], {}
        for item in _top_level(text, document, "impacts"):
            value = (Impact(item["impact"]), item.get("max_outage_minutes"))
            if positions.setdefault(item["service_id"], len(values)) != len(values):
                return GcrState.from_json(json.loads(text))
            values.append(shared.setdefault(value, value))
        return cls(GcrState.from_json({**document, "impacts": []}), positions, values)

    def own(self, service_ids: Collection[str]) -> GcrState:
        found = sorted((n, s) for s in service_ids if (n := self.positions.get(s)) is not None)
        return replace(self.base, impacts=tuple(ServiceImpact(s, *self.values[n]) for n, s in found))

    @property
    def state(self) -> GcrState:
        return self.own(self.positions)


def _top_level(text: str, document: dict, streamed: str) -> Iterator[dict]:
    """Parses a JSON object into `document`, but yields the items of its `streamed`
    array one by one instead of keeping them."""
    pos = _expect(text, 0, "{")
    while text[pos] != "}":
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _expect(text, pos, ":")
        if key == streamed and text[pos] == "[":
            pos = _expect(text, pos, "[")
            while text[pos] != "]":
                item, pos = _DECODER.raw_decode(text, pos)
                yield item
                pos = _SPACE.match(text, pos).end()
                pos = _expect(text, pos, ",") if text[pos] == "," else pos
            pos += 1
        else:
            document[key], pos = _DECODER.raw_decode(text, pos)
        pos = _SPACE.match(text, pos).end()
        pos = _expect(text, pos, ",") if text[pos] == "," else pos


def _expect(text: str, pos: int, char: str) -> int:
    """The position after `char` (at `pos`, after any spaces) and the spaces after it."""
    pos = _SPACE.match(text, pos).end()
    if text[pos] != char:
        raise ValueError(f"revision JSON: expected {char!r} at {pos}")
    return _SPACE.match(text, pos + 1).end()


class RevisionCache:
    """GCR states by (gcr id, revision number), read and parsed once. Revisions never
    change, so a worker keeps one cache for all its batches, `bind`ing it to each batch's
    session; `maxsize` bounds how many (possibly huge) states it holds."""

    def __init__(self, session: Session | None = None, maxsize: int = 64) -> None:
        self.session = session
        self._get = lru_cache(maxsize=maxsize)(self._load)

    def bind(self, session: Session) -> "RevisionCache":
        self.session = session
        return self

    def _load(self, gcr_id: int, number: int) -> "_Parsed | GcrState":
        text = self.session.scalar(select(cast(Revision.state, Text)).where(
            Revision.gcr_id == gcr_id, Revision.number == number))
        return _Parsed.read(text)

    def state(self, gcr_id: int, number: int) -> GcrState:
        parsed = self._get(gcr_id, number)
        return parsed.state if isinstance(parsed, _Parsed) else parsed

    def own(self, gcr_id: int, number: int, service_ids: Collection[str]) -> GcrState:
        """The state with only the impacts on these services, in order: what
        own_impacts(state, service_ids) gives, without reading every impact of the GCR."""
        parsed = self._get(gcr_id, number)
        if isinstance(parsed, _Parsed):
            return parsed.own(service_ids)
        return replace(parsed, impacts=tuple(own_impacts(parsed, service_ids)))


def compose_views(
    session: Session, notices: list[Notice], settings: Settings, now: datetime, cache: RevisionCache | None = None
) -> dict[int, NoticeView]:
    """NoticeViews by notice id, for notices of any GCRs and customers."""
    cache = cache or RevisionCache(session)
    customers = {c.id: c for c in session.scalars(select(Customer).where(
        Customer.id.in_({n.customer_id for n in notices})))}
    services = _services(session, set(customers))
    dropped = _dropped_windows(session, {n.gcr_id for n in notices})
    views = {}
    # A customer's notice shows only its own services, so its states need only their
    # impacts; in revision order, so that a small cache is never read out of turn.
    for notice in sorted(notices, key=lambda n: (n.gcr_id, n.revision, n.previous_revision or 0, n.id)):
        owned = services.get(notice.customer_id, {})
        state = cache.own(notice.gcr_id, notice.revision, owned)
        previous = cache.own(notice.gcr_id, notice.previous_revision, owned) if notice.previous_revision else None
        views[notice.id] = _view(notice, state, previous, customers[notice.customer_id], owned,
                                 dropped.get(notice.gcr_id, ()), settings, now)
    return {notice.id: views[notice.id] for notice in notices}


def _view(notice, state, previous, customer, owned, dropped, settings, now) -> NoticeView:
    impacts = own_impacts(state, owned) or (own_impacts(previous, owned) if previous else [])
    kind = NoticeKind(notice.kind)
    return NoticeView(
        kind=kind, notice_id=notice.id, gcr_number=state.number, title=state.title,
        description=state.description, reason=state.reason, work_location=state.work_location,
        status=state.status, emergency=state.emergency, revision=notice.revision,
        contact=state.contact or Contact(settings.cm_name, settings.cm_email, settings.cm_phone),
        customer=CustomerView(customer.account, customer.name, customer.time_zone),
        services=tuple(_line(owned[i.service_id], i) for i in impacts),
        windows=_windows(notice, state, previous, dropped),
        issued_at=now,
        changes=tuple(change_lines(previous, state, owned, customer.time_zone)) if previous else (),
        note=notice.note,
        reminder_window=notice.window_number,
        reminder_offset_hours=notice.offset_minutes // 60 if notice.offset_minutes else None,
    )


def _windows(notice: Notice, state: GcrState, previous: GcrState | None, dropped) -> tuple[WindowView, ...]:
    before = {w.number: w for w in previous.windows} if previous else {}
    events = notice.events or {}
    views = []
    active = {w.number: w for w in state.windows}
    for number, (start, end) in sorted({**{d.number: (d.starts_at, d.ends_at) for d in dropped},
                                        **{n: (w.start, w.end) for n, w in active.items()}}.items()):
        event = events.get(str(number))
        if event is None and number not in active:
            continue
        sequence, modified, cancelled = event if event else (notice.revision, notice.created_at.isoformat(), False)
        old = before.get(number)
        moved = old is not None and (old.start, old.end) != (start, end)
        views.append(WindowView(number, start, end, sequence, datetime.fromisoformat(modified),
                                cancelled=bool(cancelled) or number not in active,
                                previous_start=old.start if moved else None, previous_end=old.end if moved else None))
    return tuple(views)


class _Place(NamedTuple):
    code: str
    city: str
    region: str


class _Service(NamedTuple):
    """What service_line reads of a service, as feeds.lines.services_by_customer loads it."""

    service_id: str
    product: str
    bandwidth: str
    a_end: _Place | None
    z_end: _Place | None


def _services(session: Session, customer_ids: Collection[int]) -> dict[int, dict[str, _Service]]:
    """Each customer's services by service ID, with their locations: one query of plain
    rows (ORM objects with their locations cost the worker as much as its database)."""
    a_end, z_end = aliased(Location), aliased(Location)
    rows = session.execute(
        select(Service.customer_id, Service.service_id, Service.product, Service.bandwidth,
               a_end.code, a_end.city, a_end.region, z_end.code, z_end.city, z_end.region)
        .outerjoin(a_end, a_end.id == Service.a_end_id).outerjoin(z_end, z_end.id == Service.z_end_id)
        .where(Service.customer_id.in_(customer_ids))
    )
    owned: dict[int, dict[str, _Service]] = defaultdict(dict)
    for customer_id, service_id, product, bandwidth, a_code, a_city, a_region, z_code, z_city, z_region in rows:
        a = _Place(a_code, a_city, a_region) if a_code is not None else None
        z = _Place(z_code, z_city, z_region) if z_code is not None else None
        owned[customer_id][service_id] = _Service(service_id, product, bandwidth, a, z)
    return owned


def _dropped_windows(session: Session, gcr_ids: set[int]) -> dict[int, list[WindowRow]]:
    rows = session.scalars(select(WindowRow).where(WindowRow.gcr_id.in_(gcr_ids), WindowRow.dropped_at.is_not(None)))
    grouped: dict[int, list[WindowRow]] = defaultdict(list)
    for row in rows:
        grouped[row.gcr_id].append(row)
    return grouped


def recipients_of(session: Session, delivery_ids: list[int], settings: Settings) -> dict[int, list[Recipient]]:
    """The recipients of each delivery, still eligible now (unsubscribes and bounces since
    planning take effect at once)."""
    rows = session.execute(
        select(RecipientRow.delivery_id, ContactRow.id, ContactRow.email, ContactRow.name,
               ContactRow.unsubscribed_at, ContactRow.suppressed_at)
        .join(ContactRow, ContactRow.id == RecipientRow.contact_id)
        .where(RecipientRow.delivery_id.in_(delivery_ids), RecipientRow.state == "pending")
        .order_by(RecipientRow.id)
    )  # columns, not Contact objects: a batch has hundreds of recipients
    grouped: dict[int, list[Recipient]] = defaultdict(list)
    for delivery_id, contact_id, email, name, unsubscribed_at, suppressed_at in rows:
        if unsubscribed_at or suppressed_at:
            continue
        grouped[delivery_id].append(Recipient(contact_id, email, name, unsubscribe_token(settings, contact_id),
                                              delivery_id))
    return grouped
