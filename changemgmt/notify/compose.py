"""Turning notice rows into NoticeViews: what each one says, from the GCR revision it was
planned at, with only its own customer's services. Batched: a handful of queries for a
whole batch of notices, and each revision is parsed once."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.domain.content import own_impacts
from changemgmt.domain.gcr import Contact, GcrState
from changemgmt.domain.notice import NoticeKind
from changemgmt.feeds.lines import service_line as _line
from changemgmt.feeds.lines import services_by_customer as _services
from changemgmt.notify.changes import change_lines
from changemgmt.notify.view import CustomerView, NoticeView, Recipient, WindowView
from changemgmt.store.models import Contact as ContactRow
from changemgmt.store.models import Customer, Notice, Revision
from changemgmt.store.models import Recipient as RecipientRow
from changemgmt.store.models import Window as WindowRow
from changemgmt.tokens import unsubscribe_token


@dataclass(frozen=True)
class _Parsed:
    state: GcrState
    positions: dict[str, int]  # service ID -> index in state.impacts

    @classmethod
    def of(cls, state: GcrState) -> "_Parsed":
        return cls(state, {impact.service_id: n for n, impact in enumerate(state.impacts)})

    def own(self, service_ids: Collection[str]) -> GcrState:
        if len(self.positions) != len(self.state.impacts):  # a service twice: let own_impacts keep both
            return replace(self.state, impacts=tuple(own_impacts(self.state, service_ids)))
        found = sorted(n for n in map(self.positions.get, service_ids) if n is not None)
        return replace(self.state, impacts=tuple(self.state.impacts[n] for n in found))


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

    def _load(self, gcr_id: int, number: int) -> _Parsed:
        data = self.session.scalar(select(Revision.state).where(Revision.gcr_id == gcr_id, Revision.number == number))
        return _Parsed.of(GcrState.from_json(data))

    def state(self, gcr_id: int, number: int) -> GcrState:
        return self._get(gcr_id, number).state

    def own(self, gcr_id: int, number: int, service_ids: Collection[str]) -> GcrState:
        """The state with only the impacts on these services, in order: what
        own_impacts(state, service_ids) gives, without reading every impact of the GCR."""
        return self._get(gcr_id, number).own(service_ids)


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
        select(RecipientRow.delivery_id, ContactRow)
        .join(ContactRow, ContactRow.id == RecipientRow.contact_id)
        .where(RecipientRow.delivery_id.in_(delivery_ids), RecipientRow.state == "pending")
        .order_by(RecipientRow.id)
    )
    grouped: dict[int, list[Recipient]] = defaultdict(list)
    for delivery_id, contact in rows:
        if contact.unsubscribed_at or contact.suppressed_at:
            continue
        grouped[delivery_id].append(Recipient(contact.id, contact.email, contact.name,
                                              unsubscribe_token(settings, contact.id), delivery_id))
    return grouped
