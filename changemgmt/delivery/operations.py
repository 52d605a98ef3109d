"""What operators do with deliveries (SPEC §6, §9): list them, see a GCR's notices by
kind and state, and retry failed deliveries. `changemgmt deliveries`, `gcr show` and the
HTTP API call these; each takes the session of its caller's transaction.

A retry puts a failed delivery back in the queue as the worker expects to find it: the
delivery due now, its notice pending again, and its recipients that had not received it
(those failed with it) pending; recipients that did receive it are left as they are, so
the worker sends it once more to the others only. The give-up budget starts again
(`attempts_before_retry`, `retried_at`) while attempt numbers go on, and the GCR's audit
trail records who retried what. Every problem is reported before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, NotFound, Problems
from changemgmt.domain.states import (
    DELIVERY_RETRIED_BY_OPERATOR,
    NOTICE_RETRIED_BY_OPERATOR,
    RECIPIENT_RETRIED_BY_OPERATOR,
    DeliveryState,
    NoticeState,
)
from changemgmt.store.bulk import among
from changemgmt.store.models import AuditEntry, Customer, Delivery, Gcr, Notice, Recipient
from changemgmt.store.queries import get_gcr


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass(frozen=True)
class DeliveryQuery:
    gcr: str | None = None  # a GCR number
    account: str | None = None  # a customer account: an enterprise's includes its accounts'
    states: tuple[DeliveryState, ...] = ()
    limit: int | None = None


@dataclass(frozen=True)
class DeliverySummary:
    id: int
    notice_id: int
    gcr: str
    account: str
    kind: str
    state: str
    notice_state: str
    attempts: int
    recipients: int
    next_attempt_at: datetime
    sent_at: datetime | None
    retried_at: datetime | None
    last_error: str | None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "notice_id": self.notice_id,
            "gcr": self.gcr,
            "account": self.account,
            "kind": self.kind,
            "state": self.state,
            "notice_state": self.notice_state,
            "attempts": self.attempts,
            "recipients": self.recipients,
            "next_attempt_at": _iso(self.next_attempt_at),
            "sent_at": _iso(self.sent_at),
            "retried_at": _iso(self.retried_at),
            "last_error": self.last_error,
        }


def list_deliveries(session: Session, query: DeliveryQuery) -> list[DeliverySummary]:
    """The deliveries that match, oldest first. Raises NotFound for an unknown GCR or account."""
    statement = _summaries().order_by(Delivery.id)
    if query.gcr is not None:
        statement = statement.where(Notice.gcr_id == get_gcr(session, query.gcr).id)
    if query.account is not None:
        statement = statement.where(among(Notice.customer_id, account_and_below(session, query.account)))
    if query.states:
        statement = statement.where(Delivery.state.in_([s.value for s in query.states]))
    if query.limit is not None:
        statement = statement.limit(query.limit)
    return [DeliverySummary(*row) for row in session.execute(statement)]


def _summaries() -> Select:
    recipients = (
        select(func.count()).select_from(Recipient).where(Recipient.delivery_id == Delivery.id).scalar_subquery()
    )
    return (
        select(
            Delivery.id,
            Delivery.notice_id,
            Gcr.number,
            Customer.account,
            Notice.kind,
            Delivery.state,
            Notice.state,
            Delivery.attempts,
            recipients,
            Delivery.next_attempt_at,
            Delivery.sent_at,
            Delivery.retried_at,
            Delivery.last_error,
        )
        .join(Notice, Notice.id == Delivery.notice_id)
        .join(Gcr, Gcr.id == Notice.gcr_id)
        .join(Customer, Customer.id == Notice.customer_id)
    )


def account_and_below(session: Session, account: str) -> list[int]:
    """The customer's id and those of every account under it. Raises NotFound if unknown."""
    customer = session.scalar(select(Customer.id).where(Customer.account == account))
    if customer is None:
        raise NotFound(f"no customer with account {account}")
    found, frontier = {customer}, [customer]
    while frontier:
        children = session.scalars(select(Customer.id).where(among(Customer.parent_id, frontier)))
        frontier = [c for c in children if c not in found]
        found.update(frontier)
    return sorted(found)


def notice_counts(session: Session, gcr_id: int) -> dict[str, dict[str, int]]:
    """{notice kind: {state: how many}} for the GCR's notices."""
    rows = session.execute(
        select(Notice.kind, Notice.state, func.count())
        .where(Notice.gcr_id == gcr_id)
        .group_by(Notice.kind, Notice.state)
        .order_by(Notice.kind, Notice.state)
    )
    counts: dict[str, dict[str, int]] = {}
    for kind, state, count in rows:
        counts.setdefault(kind, {})[state] = count
    return counts


def failed_deliveries(session: Session, gcr_id: int) -> list[DeliverySummary]:
    """The GCR's failed deliveries, oldest first, each with its reason (`last_error`)."""
    statement = _summaries().where(Notice.gcr_id == gcr_id, Delivery.state == DeliveryState.FAILED)
    return [DeliverySummary(*row) for row in session.execute(statement.order_by(Delivery.id))]


@dataclass(frozen=True)
class RetriedDelivery:
    id: int
    notice_id: int
    gcr: str
    account: str
    kind: str
    recipients: int  # put back to be sent to (those that had not received it)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "notice_id": self.notice_id,
            "gcr": self.gcr,
            "account": self.account,
            "kind": self.kind,
            "recipients": self.recipients,
        }


def retry_deliveries(
    session: Session,
    ids: Sequence[int] | None = None,
    gcr: str | None = None,
    failed: bool = True,
    *,
    now: datetime,
    actor: str = "system",
) -> list[RetriedDelivery]:
    """Puts failed deliveries back in the queue, due at `now`: those with the given `ids`,
    or every failed one of GCR `gcr` (`failed` must then be True: only failed deliveries
    can be retried). Returns what it reset. Raises DomainError (every problem at once:
    a delivery that is not failed, or whose notice was settled since) or NotFound, having
    written nothing."""
    rows = _chosen(session, ids, gcr, failed)
    _check(rows)
    delivery_ids = [row.id for row in rows]
    recipients = dict(
        session.execute(
            select(Recipient.delivery_id, func.count())
            .where(among(Recipient.delivery_id, delivery_ids), Recipient.state == RECIPIENT_RETRIED_BY_OPERATOR.source)
            .group_by(Recipient.delivery_id)
        ).all()
    )
    _reset(session, rows, now)
    retried = [RetriedDelivery(r.id, r.notice_id, r.gcr, r.account, r.kind, recipients.get(r.id, 0)) for r in rows]
    _audit(session, retried, now, actor)
    return retried


def _chosen(session: Session, ids: Sequence[int] | None, gcr: str | None, failed: bool) -> list[DeliverySummary]:
    """The deliveries named, locked against a worker or another retry until the commit."""
    if ids and gcr:
        raise DomainError("deliveries", "give delivery ids, or a GCR with --failed, not both")
    if not ids and gcr is None:
        raise DomainError("deliveries", "give the ids of the deliveries to retry, or a GCR with --failed")
    if gcr is not None and not failed:
        raise DomainError("failed", "only failed deliveries can be retried: give --failed with --gcr")
    statement = _summaries().order_by(Delivery.id).with_for_update(of=Delivery)
    if gcr is not None:
        statement = statement.where(Notice.gcr_id == get_gcr(session, gcr).id, Delivery.state == DeliveryState.FAILED)
        return [DeliverySummary(*row) for row in session.execute(statement)]
    wanted = sorted(set(ids or ()))
    found = [DeliverySummary(*row) for row in session.execute(statement.where(among(Delivery.id, wanted)))]
    missing = sorted(set(wanted) - {row.id for row in found})
    if missing:
        raise NotFound("no delivery " + ", ".join(map(str, missing)))
    return found


def _check(rows: Iterable[DeliverySummary]) -> None:
    problems = Problems()
    for row in rows:
        if row.state != DELIVERY_RETRIED_BY_OPERATOR.source:
            problems.add(f"delivery {row.id}", f"it is {row.state}: only a failed delivery can be retried")
        elif row.notice_state not in (NOTICE_RETRIED_BY_OPERATOR.source, NoticeState.PENDING):
            problems.add(
                f"delivery {row.id}",
                f"its notice {row.notice_id} is {row.notice_state} since (a later change or another delivery "
                "settled it): it would not be sent",
            )
    problems.raise_any()


def _reset(session: Session, rows: list[DeliverySummary], now: datetime) -> None:
    delivery_ids, notice_ids = [r.id for r in rows], sorted({r.notice_id for r in rows})
    if not delivery_ids:
        return
    session.execute(
        update(Delivery)
        .where(among(Delivery.id, delivery_ids), Delivery.state == DELIVERY_RETRIED_BY_OPERATOR.source)
        .values(
            state=DELIVERY_RETRIED_BY_OPERATOR.target,
            next_attempt_at=now,
            retried_at=now,
            attempts_before_retry=Delivery.attempts,
            claimed_until=None,
            claimed_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Notice)
        .where(among(Notice.id, notice_ids), Notice.state == NOTICE_RETRIED_BY_OPERATOR.source)
        .values(state=NOTICE_RETRIED_BY_OPERATOR.target, settled_at=None, skip_reason=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Recipient)
        .where(among(Recipient.delivery_id, delivery_ids), Recipient.state == RECIPIENT_RETRIED_BY_OPERATOR.source)
        .values(state=RECIPIENT_RETRIED_BY_OPERATOR.target, updated_at=now, error=None)
        .execution_options(synchronize_session=False)
    )


def _audit(session: Session, retried: list[RetriedDelivery], now: datetime, actor: str) -> None:
    """One entry per GCR in its audit trail (`gcr show` lists them)."""
    by_gcr: dict[str, list[RetriedDelivery]] = {}
    for delivery in retried:
        by_gcr.setdefault(delivery.gcr, []).append(delivery)
    for number, deliveries in by_gcr.items():
        session.add(
            AuditEntry(
                at=now,
                actor=actor,
                entity="gcr",
                entity_key=number,
                action="retry deliveries",
                details={
                    "deliveries": [d.id for d in deliveries],
                    "changes": [f"delivery {d.id} ({d.kind} to {d.account})" for d in deliveries],
                },
            )
        )
