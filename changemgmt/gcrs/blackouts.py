"""Blackouts (SPEC §8): freeze periods, global or a customer's (covering the accounts
below it), kept by the change managers; and the check that publishing or moving a GCR's
windows into one is refused unless overridden with a reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from changemgmt.domain.conflicts import Blackout, blackout_hits, check_blackout_period, check_blackouts
from changemgmt.domain.errors import NotFound, Problems
from changemgmt.domain.windows import Window
from changemgmt.feeds.hierarchy import enterprise_ancestors
from changemgmt.store import models


@dataclass(frozen=True)
class BlackoutQuery:
    start: datetime | None = None  # blackouts ending after this
    end: datetime | None = None  # ... and starting before this
    account: str | None = None  # only this customer's (and the global ones, with `with_global`)
    with_global: bool = True
    removed: bool = False  # include removed ones


def _blackout(row: models.Blackout, account: str | None) -> Blackout:
    return Blackout(row.id, row.starts_at, row.ends_at, row.reason, account, row.removed_at)


def _customer(session: Session, account: str) -> models.Customer:
    customer = session.scalar(select(models.Customer).where(models.Customer.account == account))
    if customer is None:
        raise NotFound(f"no customer with account {account}")
    return customer


def add_blackout(
    session: Session,
    account: str | None,
    start: datetime | None,
    end: datetime | None,
    reason: object,
    actor: str,
    now: datetime,
    problems: Problems | None = None,
) -> Blackout:
    """Records a blackout (global when `account` is None), with an audit entry. Refuses,
    with every problem at once, a bad period or reason or an unknown account, and those
    the caller found reading its input (`problems`; a time it could not read is None)."""
    problems = Problems() if problems is None else problems
    reason = check_blackout_period(start, end, reason, problems)
    customer = None
    if account:
        try:
            customer = _customer(session, account)
        except NotFound as missing:
            problems.add("account", str(missing))
    problems.raise_any()
    assert start is not None and end is not None  # (else a problem was raised)
    row = models.Blackout(
        customer_id=customer.id if customer else None,
        starts_at=start,
        ends_at=end,
        reason=reason,
        created_at=now,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    blackout = _blackout(row, account)
    _audit(session, blackout, "create", actor, now)
    return blackout


def remove_blackout(session: Session, blackout_id: int, actor: str, now: datetime) -> Blackout:
    """Ends a blackout's effect (the row stays, marked removed), with an audit entry. Of
    two removals at once, the second finds it removed (NotFound): one audit entry."""
    row = session.get(models.Blackout, blackout_id, with_for_update=True, populate_existing=True)
    if row is None or row.removed_at is not None:
        raise NotFound(f"no blackout {blackout_id}")
    row.removed_at, row.removed_by = now, actor
    owner = session.get(models.Customer, row.customer_id) if row.customer_id else None
    account = owner.account if owner else None
    blackout = _blackout(row, account)
    _audit(session, blackout, "remove", actor, now)
    session.flush()
    return blackout


def _audit(session: Session, blackout: Blackout, action: str, actor: str, now: datetime) -> None:
    session.add(
        models.AuditEntry(
            at=now,
            actor=actor,
            entity="blackout",
            entity_key=str(blackout.id),
            action=action,
            details=blackout.to_json(),
        )
    )


def list_blackouts(session: Session, query: BlackoutQuery = BlackoutQuery()) -> list[Blackout]:
    """Blackouts by start, as the query selects them."""
    statement = (
        select(models.Blackout, models.Customer.account)
        .outerjoin(models.Customer, models.Customer.id == models.Blackout.customer_id)
        .order_by(models.Blackout.starts_at, models.Blackout.id)
    )
    if not query.removed:
        statement = statement.where(models.Blackout.removed_at.is_(None))
    if query.start is not None:
        statement = statement.where(models.Blackout.ends_at > query.start)
    if query.end is not None:
        statement = statement.where(models.Blackout.starts_at < query.end)
    if query.account is not None:
        customer = _customer(session, query.account)
        mine = models.Blackout.customer_id == customer.id
        statement = statement.where(or_(mine, models.Blackout.customer_id.is_(None)) if query.with_global else mine)
    return [_blackout(row, account) for row, account in session.execute(statement)]


def _impacted_customer_ids(session: Session, gcr_id: int) -> set[int]:
    return set(
        session.scalars(
            select(models.Service.customer_id)
            .join(models.Impact, models.Impact.service_pk == models.Service.id)
            .where(models.Impact.gcr_id == gcr_id)
            .distinct()
        )
    )


def blackouts_for(session: Session, gcr: models.Gcr, windows: Iterable[Window]) -> list[tuple[Window, Blackout]]:
    """The (window, blackout) pairs that overlap, among the global blackouts and those of
    the customers the GCR impacts and of the enterprises above them."""
    windows = list(windows)
    if not windows:
        return []
    session.flush()
    start, end = min(w.start for w in windows), max(w.end for w in windows)
    overlapping: list[tuple[models.Blackout, str | None]] = [
        (row, account)
        for row, account in session.execute(
            select(models.Blackout, models.Customer.account)
            .outerjoin(models.Customer, models.Customer.id == models.Blackout.customer_id)
            .where(
                models.Blackout.removed_at.is_(None), models.Blackout.starts_at < end, models.Blackout.ends_at > start
            )
        )
    ]
    # Which customers the GCR impacts (at 20,000 customers, 0.1 to 0.3 s of publishing to
    # them) is asked only when a blackout of some customer is in the way.
    if any(row.customer_id is not None for row, _ in overlapping):
        customers = _impacted_customer_ids(session, gcr.id)
        customers |= enterprise_ancestors(session, customers)
        overlapping = [(row, a) for row, a in overlapping if row.customer_id is None or row.customer_id in customers]
    return blackout_hits(windows, [_blackout(row, account) for row, account in overlapping])


def refuse_blackouts(
    session: Session, gcr: models.Gcr, windows: Iterable[Window], override: str | None
) -> tuple[Blackout, ...]:
    """Raises DomainErrors naming each window that falls in a blackout, unless `override`
    (a reason) is given; returns the blackouts overridden (to be recorded)."""
    hits = blackouts_for(session, gcr, windows)
    check_blackouts(hits, override)
    return tuple(dict.fromkeys(blackout for _, blackout in hits))
