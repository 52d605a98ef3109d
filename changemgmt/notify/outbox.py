"""The outbox: notices, their recipients and deliveries, written in the same transaction
as the GCR change that causes them (STANDARDS E1). Planning twice never makes a second
notice: each has a unique key per GCR, and inserts skip keys that exist."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.domain.content import customer_digest
from changemgmt.domain.gcr import GcrState, ServiceImpact
from changemgmt.domain.impact import worst
from changemgmt.domain.planner import Change, CustomerPlan, Policy, plan_change
from changemgmt.domain.policy import needs_emergency_notice
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.recipients import ContactPrefs, pick_recipients
from changemgmt.domain.status import Status
from changemgmt.notify import audience as load
from changemgmt.notify.events import sync_events
from changemgmt.notify.writes import insert_notices, save_audiences, skip_notices
from changemgmt.store.models import Gcr

CHUNK = 1000


def policy_of(settings: Settings) -> Policy:
    return Policy(reminder_offsets=settings.reminder_offsets, minimum_notice=settings.minimum_notice)


@dataclass
class PlanSummary:
    """What planning did, by notice kind and state (for the CLI and logs)."""

    planned: dict[str, int] = field(default_factory=dict)
    no_recipient: int = 0
    skipped: int = 0

    def add(self, other: "PlanSummary") -> None:
        for kind, count in other.planned.items():
            self.planned[kind] = self.planned.get(kind, 0) + count
        self.no_recipient += other.no_recipient
        self.skipped += other.skipped


def plan_for_change(
    session: Session, gcr: Gcr, before: GcrState | None, after: GcrState, revision: int, settings: Settings,
    now: datetime,
) -> PlanSummary:
    """Plans every customer's notices for a new revision, and updates its calendar events."""
    summary = PlanSummary()
    if after.status is Status.DRAFT:
        return summary
    was = before.status if before else None
    emergency = needs_emergency_notice(after.windows, now=now, minimum=settings.minimum_notice,
                                       emergency=after.emergency)
    scope = load.scope_services(session, gcr.id)
    owned = impacts_by_customer(after, scope)
    known = load.audiences(session, gcr.id)
    customers = sorted(set(scope) | {cid for cid, a in known.items() if a.in_scope})
    for chunk in _chunks(customers):
        standing = load.standings(session, gcr.id, chunk, known)
        digests = {cid: customer_digest(replace(after, impacts=owned.get(cid, ())), scope.get(cid, frozenset()))
                   for cid in chunk}
        plans = {}
        for customer_id in chunk:
            change = Change(before=was, after=after.status, revision=revision,
                            in_scope=bool(scope.get(customer_id)), digest=digests[customer_id],
                            windows=after.windows, emergency=emergency, now=now)
            plans[customer_id] = plan_change(standing[customer_id], change)
        sync_events(session, gcr, after, revision, {cid: scope.get(cid, frozenset()) for cid in chunk}, now,
                    contents={cid: digest.content for cid, digest in digests.items()})
        summary.add(write_plans(session, gcr.id, revision, after, scope, plans, now, owned))
        save_audiences(session, gcr.id, {cid: p.standing for cid, p in plans.items()}, known, now)
    return summary


def impacts_by_customer(
    state: GcrState, scope: Mapping[int, frozenset[str]]
) -> dict[int, tuple[ServiceImpact, ...]]:
    """Each customer's impacts, in the state's order: `own_impacts(state, scope[c])` for
    every customer c in one pass (a service belongs to one customer), where calling it per
    customer would read the whole GCR 20,000 times."""
    owner = {service_id: customer_id for customer_id, ids in scope.items() for service_id in ids}
    grouped: dict[int, list[ServiceImpact]] = defaultdict(list)
    for impact in state.impacts:
        customer_id = owner.get(impact.service_id)
        if customer_id is not None:
            grouped[customer_id].append(impact)
    return {customer_id: tuple(impacts) for customer_id, impacts in grouped.items()}


def _chunks(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def write_plans(
    session: Session, gcr_id: int, revision: int, state: GcrState, scope: dict[int, frozenset[str]],
    plans: dict[int, CustomerPlan], now: datetime, owned: Mapping[int, tuple[ServiceImpact, ...]] | None = None,
) -> PlanSummary:
    """Skips what the plans make pointless and inserts their notices with recipients.
    `owned`: impacts_by_customer(state, scope), when the caller has it already."""
    summary = PlanSummary()
    skips = [s for p in plans.values() for s in p.skips]
    skip_notices(session, skips, now)
    summary.skipped = len(skips)
    wanted = [(cid, n) for cid, p in plans.items() for n in p.notices]
    if not wanted:
        return summary
    if owned is None:
        owned = impacts_by_customer(state, {cid: scope.get(cid, frozenset()) for cid, _ in wanted})
    contacts = load.contacts_by_customer(session, {cid for cid, _ in wanted})
    heard = load.heard_contacts(session, gcr_id, {c.id for cs in contacts.values() for c in cs})
    rows = [(cid, n, choose_recipients(contacts.get(cid, []), n.kind, owned.get(cid, ()), heard))
            for cid, n in wanted]
    inserted = insert_notices(session, gcr_id, revision, rows, now)
    for customer_id, notice, chosen in inserted:
        summary.planned[notice.kind.value] = summary.planned.get(notice.kind.value, 0) + 1
        if not chosen:
            summary.no_recipient += 1
            if notice.kind.value in ("new", "emergency"):
                plans[customer_id] = _not_notified(plans[customer_id])
    return summary


def choose_recipients(contacts: list[ContactPrefs], kind: NoticeKind, impacts: Iterable[ServiceImpact],
                      heard: set[int]) -> list[ContactPrefs]:
    """The contacts of one customer that get a `kind` notice, given its own impacts."""
    return pick_recipients(contacts, kind, worst(i.impact for i in impacts), heard)


def _not_notified(plan: CustomerPlan) -> CustomerPlan:
    return replace(plan, standing=replace(plan.standing, notified=False, notified_at=None))
