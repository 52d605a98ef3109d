"""What the customer portal shows: the maintenance of the accounts a user's chosen grant
covers, each GCR as a notice to that account would show it now (delivery.shown: its own
services only, its calendar events), with the notices sent to it. A GCR reaches the
portal exactly when it reaches the account's calendar: through its `events` rows, so
drafts never do. Everything is read through a domain.access.Context: nothing outside
its accounts is ever loaded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.content.view import NoticeView
from changemgmt.delivery.shown import shown_to_each
from changemgmt.domain.access import Context
from changemgmt.domain.errors import NotFound
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.states import NoticeState
from changemgmt.store.bulk import among
from changemgmt.store.models import Customer, Event, Gcr, Notice


@dataclass(frozen=True)
class SentNotice:
    kind: NoticeKind
    at: datetime


@dataclass(frozen=True)
class Shown:
    """One GCR as one account of the context sees it."""

    view: NoticeView
    notices: tuple[SentNotice, ...]

    def upcoming(self, now: datetime) -> bool:
        return any(w.end > now and not w.cancelled for w in self.view.windows)

    def ends(self) -> datetime:
        return max((w.end for w in self.view.windows), default=self.view.issued_at)

    def starts(self) -> datetime:
        return min((w.start for w in self.view.windows), default=self.view.issued_at)


def _pairs(session: Session, accounts: frozenset[int], gcr_number: str | None = None) -> list[tuple[Gcr, int]]:
    statement = (
        select(Gcr, Event.customer_id)
        .join(Event, Event.gcr_id == Gcr.id)
        .where(among(Event.customer_id, sorted(accounts)))
        .distinct()
    )
    if gcr_number is not None:
        statement = statement.where(Gcr.number == gcr_number)
    return [(gcr, customer_id) for gcr, customer_id in session.execute(statement)]


def _sent(session: Session, pairs: list[tuple[Gcr, int]]) -> dict[tuple[int, int], list[SentNotice]]:
    found: dict[tuple[int, int], list[SentNotice]] = {}
    gcr_ids = sorted({gcr.id for gcr, _ in pairs})
    customers = sorted({c for _, c in pairs})
    if not gcr_ids:
        return found
    rows = session.execute(
        select(Notice.gcr_id, Notice.customer_id, Notice.kind, Notice.settled_at)
        .where(among(Notice.gcr_id, gcr_ids), among(Notice.customer_id, customers), Notice.state == NoticeState.SENT)
        .order_by(Notice.settled_at, Notice.id)
    )
    for gcr_id, customer_id, kind, settled_at in rows:
        if settled_at is not None:
            found.setdefault((gcr_id, customer_id), []).append(SentNotice(NoticeKind(kind), settled_at))
    return found


def _shown(session: Session, settings: Settings, pairs: list[tuple[Gcr, int]], now: datetime) -> list[Shown]:
    views = shown_to_each(session, pairs, NoticeKind.UPDATED, settings, now)
    sent = _sent(session, pairs)
    return [Shown(view, tuple(sent.get((gcr.id, c), ()))) for (gcr, c), view in zip(pairs, views)]


def maintenance(
    session: Session, settings: Settings, context: Context, now: datetime
) -> tuple[list[Shown], list[Shown]]:
    """(upcoming, recent): upcoming soonest first; recent (over, or cancelled, within the
    feed retention) latest first."""
    since = now - timedelta(days=settings.feed_retention_days)
    shown = [s for s in _shown(session, settings, _pairs(session, context.accounts), now) if s.ends() > since]
    upcoming = sorted((s for s in shown if s.upcoming(now)), key=lambda s: (s.starts(), s.view.gcr_number))
    recent = sorted((s for s in shown if not s.upcoming(now)), key=lambda s: (s.ends(), s.view.gcr_number))
    return upcoming, list(reversed(recent))


def gcr_for(session: Session, settings: Settings, context: Context, number: str, now: datetime) -> list[Shown]:
    """The GCR `number` as each account of the context it affects sees it; NotFound when
    it affects none of them (whether or not it exists)."""
    shown = _shown(session, settings, _pairs(session, context.accounts, number), now)
    if not shown:
        raise NotFound(f"no maintenance {number}")
    return sorted(shown, key=lambda s: s.view.customer.account)


def accounts_of(session: Session, context: Context) -> list[Customer]:
    return list(
        session.scalars(select(Customer).where(among(Customer.id, sorted(context.accounts))).order_by(Customer.account))
    )
