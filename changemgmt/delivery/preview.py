"""The exact message a customer would get about a GCR now, rendered as the worker renders
one: shared by `changemgmt preview` and the API's preview, so neither can drift from what
is sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.content.view import Recipient
from changemgmt.delivery.links import feed_links, notice_links
from changemgmt.delivery.message import OutgoingMessage, build_email
from changemgmt.delivery.render import Renderer
from changemgmt.delivery.shown import shown_now
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.planner import first_notice_kind
from changemgmt.domain.policy import needs_emergency_notice
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window
from changemgmt.signing import unsubscribe_token
from changemgmt.store.models import Audience, Customer, Gcr
from changemgmt.store.queries import get_gcr, impacted_customers


def preview_message(
    session,
    settings: Settings,
    number: str,
    account: str,
    kind: str | None,
    tentative: bool,
    now: datetime,
    sessions: sessionmaker[Session] | None = None,
) -> OutgoingMessage:
    """The message about GCR `number` to `account`'s contacts, rendered as the worker
    renders one: what the account is shown now (delivery.shown), a draft as published;
    with the footer's feed links when `sessions` is given (a feed is made on first use)."""
    gcr = get_gcr(session, number)
    customer = session.scalar(select(Customer).where(Customer.account == account))
    if customer is None:
        raise NotFound(f"no customer with account {account}")
    audience = session.scalar(select(Audience).where(Audience.gcr_id == gcr.id, Audience.customer_id == customer.id))
    if audience is None and not _impacted(session, gcr, customer):
        raise DomainError("account", f"{number} does not affect {account}")
    status = _previewed_status(gcr, tentative)
    shown_kind = _kind(kind) if kind else _first_kind(gcr, settings, now)
    view = replace(shown_now(session, gcr, customer, shown_kind, settings, now), status=status)
    contacts = [
        Recipient(c.id, c.email, c.name, unsubscribe_token(settings, c.id), None, customer.name, customer.id)
        for c in customer.contacts
    ]
    links = notice_links(feed_links(sessions, settings, [customer.id], [], now), customer.id, {}) if sessions else None
    return build_email(view, contacts, settings, Renderer.from_settings(settings), links)


def _kind(raw: str) -> NoticeKind:
    try:
        return NoticeKind(raw)
    except ValueError:
        raise DomainError("kind", f"must be one of {', '.join(k.value for k in NoticeKind)}") from None


def _previewed_status(gcr: Gcr, tentative: bool) -> Status:
    """What customers would read: a draft as `gcr publish` would publish it now."""
    status = Status(gcr.status)
    if status is Status.DRAFT:
        return Status.TENTATIVE if tentative else Status.CONFIRMED
    if tentative:
        raise DomainError("--tentative", f"{gcr.number} is already {status.value}: it is previewed as it is")
    return status


def _first_kind(gcr: Gcr, settings, now: datetime) -> NoticeKind:
    """The kind of the first notice the account would get now (publishing a draft, or
    being added to a published GCR): the planner's rule."""
    windows = [Window(w.number, w.starts_at, w.ends_at) for w in gcr.windows if w.dropped_at is None]
    short = needs_emergency_notice(windows, now=now, minimum=settings.minimum_notice, emergency=False)
    return first_notice_kind(publishing=gcr.status == Status.DRAFT.value, emergency=gcr.emergency, short_notice=short)


def _impacted(session, gcr: Gcr, customer: Customer) -> bool:
    return any(c.customer.id == customer.id for c in impacted_customers(session, gcr.id))
