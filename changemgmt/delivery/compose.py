"""Turning notices into NoticeViews: what each one says, from the GCR revision it was
planned at, with only its own customer's services. Batched: a handful of queries for a
whole batch of notices, each revision's state parsed once, and only the impacts on the
batch's customers' services read. The worker composes its notice rows here, and
`delivery.shown` what a customer is shown of a GCR now: one path for both."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from changemgmt.config import Settings
from changemgmt.content.changes import change_lines
from changemgmt.content.lines import service_line as _line
from changemgmt.content.view import CustomerView, NoticeView, Recipient, WindowView, shown_numbers
from changemgmt.domain.digests import own_impacts
from changemgmt.domain.gcr import Contact, GcrState
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.states import RecipientState
from changemgmt.signing import unsubscribe_token
from changemgmt.store import models
from changemgmt.store.bulk import among
from changemgmt.store.models import Customer, Location, Service
from changemgmt.store.revisions import ImpactHistory, history_of, impact_spans, revision_states


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """What composing reads of a notice: which revision of which GCR to show to which
    customer, as which kind, with the customer's calendar events as they stood when it
    was planned. The worker takes them from its notice rows (`of`); `delivery.shown`
    makes them for a view no notice row holds."""

    id: int  # the notice's id (its Message-ID); delivery.shown.NO_NOTICE for none
    gcr_id: int
    customer_id: int
    kind: NoticeKind
    revision: int
    previous_revision: int | None  # the revision it tells the changes from, if any
    window_number: int | None  # a reminder's window
    offset_minutes: int | None  # a reminder's offset
    note: str
    events: dict[str, Any]  # {window number: [sequence, modified_at ISO, cancelled]}
    created_at: datetime  # the time of a window's event when `events` has none for it

    @classmethod
    def of(cls, row: Any) -> NoticeFacts:
        """The facts of a notice row: a `Notice`, or a row of its table's columns."""
        return cls(
            row.id,
            row.gcr_id,
            row.customer_id,
            NoticeKind(row.kind),
            row.revision,
            row.previous_revision,
            row.window_number,
            row.offset_minutes,
            row.note,
            row.events,
            row.created_at,
        )


log = logging.getLogger(__name__)


class RevisionCache:
    """GCR states without their impacts, by (gcr id, revision number), read and parsed
    once. Revisions never change, so a worker keeps one cache for all its batches,
    `bind`ing it to each batch's session; it holds the `maxsize` last used."""

    def __init__(self, session: Session | None = None, maxsize: int = 64) -> None:
        self.session = session
        self.maxsize = maxsize
        self._states: dict[tuple[int, int], GcrState] = {}

    def bind(self, session: Session) -> RevisionCache:
        self.session = session
        return self

    def states(self, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], GcrState]:
        """The states of these (gcr id, revision number)s: one query for those not held."""
        if self.session is None:
            raise RuntimeError("a RevisionCache reads through the session it is bound to, and has none")
        wanted = set(pairs)
        found = {pair: self._states.pop(pair) for pair in wanted if pair in self._states}
        found.update(revision_states(self.session, wanted - found.keys()))
        self._states.update(found)
        while len(self._states) > self.maxsize:
            del self._states[next(iter(self._states))]
        return found


def compose_views(
    session: Session, notices: list[NoticeFacts], settings: Settings, now: datetime, cache: RevisionCache | None = None
) -> dict[int, NoticeView]:
    """NoticeViews by notice id, for notices of any GCRs and customers. A customer's
    notice shows only its own services, so only their impacts are read."""
    cache = cache or RevisionCache(session)
    customers = {
        c.id: c
        for c in session.execute(
            select(
                Customer.id,
                Customer.account,
                Customer.name,
                Customer.time_zone,
                Customer.lead_name,
                Customer.lead_email,
                Customer.lead_phone,
            ).where(among(Customer.id, {n.customer_id for n in notices}))
        )
    }
    impacts, services = _impacted_services(session, {n.gcr_id for n in notices}, set(customers))
    dropped = _dropped_windows(session, {n.gcr_id for n in notices})
    states = cache.states(
        [(n.gcr_id, n.revision) for n in notices]
        + [(n.gcr_id, n.previous_revision) for n in notices if n.previous_revision]
    )

    def state_at(notice: NoticeFacts, revision: int) -> GcrState:
        return replace(
            states[(notice.gcr_id, revision)], impacts=impacts.at(notice.gcr_id, revision, notice.customer_id)
        )

    views = {}
    for notice in notices:
        previous = state_at(notice, notice.previous_revision) if notice.previous_revision else None
        views[notice.id] = _view(
            notice,
            state_at(notice, notice.revision),
            previous,
            customers[notice.customer_id],
            services.get(notice.customer_id, {}),
            dropped.get(notice.gcr_id, ()),
            settings,
            now,
        )
    return views


def compose_each(
    session: Session, notices: list[NoticeFacts], settings: Settings, now: datetime, cache: RevisionCache | None = None
) -> tuple[dict[int, NoticeView], dict[int, str]]:
    """compose_views, each notice failing alone: when the batch cannot be composed, each
    notice is composed by itself. Returns the views, and why each other notice failed
    (notice id -> reason). A database error is no notice's fault: it is raised."""
    try:
        return compose_views(session, notices, settings, now, cache), {}
    except SQLAlchemyError:
        raise
    except Exception:  # noqa: BLE001 - one notice's data must not stop the batch: find which
        log.warning("composing a batch of %s notices failed: composing them one by one", len(notices))
    views: dict[int, NoticeView] = {}
    failed: dict[int, str] = {}
    for notice in notices:
        try:
            views.update(compose_views(session, [notice], settings, now, cache))
        except SQLAlchemyError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.exception("composing notice %s failed", notice.id, extra={"event": "compose_failed"})
            failed[notice.id] = f"{type(exc).__name__}: {exc}"
    return views, failed


def _view(notice: NoticeFacts, state, previous, customer, owned, dropped, settings, now) -> NoticeView:
    impacts = own_impacts(state, owned) or (own_impacts(previous, owned) if previous else [])
    windows = _windows(notice, state, previous, dropped)
    numbers = shown_numbers(windows)
    return NoticeView(
        kind=notice.kind,
        notice_id=notice.id,
        gcr_number=state.number,
        title=state.title,
        description=state.description,
        reason=state.reason,
        work_location=state.work_location,
        status=state.status,
        emergency=state.emergency,
        revision=notice.revision,
        contact=state.contact or Contact(settings.cm_name, settings.cm_email, settings.cm_phone),
        customer=CustomerView(
            customer.account,
            customer.name,
            customer.time_zone,
            customer.lead_name or "",
            customer.lead_email or "",
            customer.lead_phone or "",
        ),
        services=tuple(_line(owned[i.service_id], i) for i in impacts),
        windows=windows,
        issued_at=now,
        changes=tuple(change_lines(previous, state, owned, customer.time_zone, numbers)) if previous else (),
        note=notice.note,
        reminder_window=notice.window_number,
        reminder_offset_hours=notice.offset_minutes // 60 if notice.offset_minutes else None,
    )


def _windows(notice: NoticeFacts, state: GcrState, previous: GcrState | None, dropped) -> tuple[WindowView, ...]:
    before = {w.number: w for w in previous.windows} if previous else {}
    events = notice.events or {}
    views = []
    active = {w.number: w for w in state.windows}
    for number, (start, end) in sorted(
        {
            **{d.number: (d.starts_at, d.ends_at) for d in dropped},
            **{n: (w.start, w.end) for n, w in active.items()},
        }.items()
    ):
        event = events.get(str(number))
        if event is None and number not in active:
            continue
        sequence, modified, cancelled = event if event else (notice.revision, notice.created_at.isoformat(), False)
        old = before.get(number)
        moved_from = old if old is not None and (old.start, old.end) != (start, end) else None
        views.append(
            WindowView(
                number,
                start,
                end,
                sequence,
                datetime.fromisoformat(modified),
                cancelled=bool(cancelled) or number not in active,
                previous_start=moved_from.start if moved_from is not None else None,
                previous_end=moved_from.end if moved_from is not None else None,
            )
        )
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


def _impacted_services(
    session: Session, gcr_ids: Collection[int], customer_ids: Collection[int]
) -> tuple[ImpactHistory, dict[int, dict[str, _Service]]]:
    """The impact spans of these GCRs on these customers' services, and each customer's
    services these impacts name, by service ID, with their locations: one query of plain
    rows (ORM objects with their locations cost the worker as much as its database). A
    notice shows, and tells the changes of, only services its GCR impacts at some
    revision, so no other service is read."""
    a_end, z_end = aliased(Location), aliased(Location)
    rows = session.execute(
        impact_spans(gcr_ids, customer_ids)
        .add_columns(
            Service.product,
            Service.bandwidth,
            a_end.code,
            a_end.city,
            a_end.region,
            z_end.code,
            z_end.city,
            z_end.region,
        )
        .outerjoin(a_end, a_end.id == Service.a_end_id)
        .outerjoin(z_end, z_end.id == Service.z_end_id)
    ).all()
    owned: dict[int, dict[str, _Service]] = defaultdict(dict)
    for row in rows:  # impact_spans' columns, then the service's added above
        customer_id, service_id = row[1], row[2]
        product, bandwidth, a_code, a_city, a_region, z_code, z_city, z_region = row[7:]
        a = _Place(a_code, a_city, a_region) if a_code is not None else None
        z = _Place(z_code, z_city, z_region) if z_code is not None else None
        owned[customer_id][service_id] = _Service(service_id, product, bandwidth, a, z)
    return history_of(rows), owned


def _dropped_windows(session: Session, gcr_ids: set[int]) -> dict[int, list[models.Window]]:
    rows = session.scalars(
        select(models.Window).where(models.Window.gcr_id.in_(gcr_ids), models.Window.dropped_at.is_not(None))
    )
    grouped: dict[int, list[models.Window]] = defaultdict(list)
    for row in rows:
        grouped[row.gcr_id].append(row)
    return grouped


def recipients_of(session: Session, delivery_ids: list[int], settings: Settings) -> dict[int, list[Recipient]]:
    """The recipients of each delivery, still eligible now (unsubscribes and bounces since
    planning take effect at once)."""
    rows = session.execute(
        select(
            models.Recipient.delivery_id,
            models.Contact.id,
            models.Contact.email,
            models.Contact.name,
            models.Contact.unsubscribed_at,
            models.Contact.suppressed_at,
            Customer.name,
            models.Contact.customer_id,
        )
        .join(models.Contact, models.Contact.id == models.Recipient.contact_id)
        .join(Customer, Customer.id == models.Contact.customer_id)
        .where(among(models.Recipient.delivery_id, delivery_ids), models.Recipient.state == RecipientState.PENDING)
        .order_by(models.Recipient.id)
    )  # columns, not Contact objects: a batch has hundreds of recipients
    grouped: dict[int, list[Recipient]] = defaultdict(list)
    for delivery_id, contact_id, email, name, unsubscribed_at, suppressed_at, organisation, customer_id in rows:
        if unsubscribed_at or suppressed_at:
            continue
        token = unsubscribe_token(settings, contact_id)
        grouped[delivery_id].append(Recipient(contact_id, email, name, token, delivery_id, organisation, customer_id))
    return grouped
