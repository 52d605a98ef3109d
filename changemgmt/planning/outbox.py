"""The outbox: notices, their recipients and deliveries, written in the same transaction
as the GCR change that causes them (STANDARDS E1). Planning twice never makes a second
notice: each has a unique key per GCR, and inserts skip keys that exist."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.domain.digests import own_digest
from changemgmt.domain.gcr import GcrState, ServiceImpact
from changemgmt.domain.impact import worst
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.planner import CustomerChange, CustomerPlan, Policy, pending_skips, plan_change
from changemgmt.domain.policy import needs_emergency_notice
from changemgmt.domain.recipients import ContactPrefs, pick_recipients
from changemgmt.domain.status import Status
from changemgmt.planning import reads
from changemgmt.planning.calendar_events import event_changes, existing_events, write_event_changes
from changemgmt.planning.writes import insert_notices, save_audiences, skip_notices
from changemgmt.store.chunks import chunks
from changemgmt.store.db import replan_cached_statements, writes_overlapped
from changemgmt.store.models import Gcr

CHUNK = 1000


def policy_of(settings: Settings) -> Policy:
    return Policy(
        reminder_offsets=settings.reminder_offsets,
        minimum_notice=settings.minimum_notice,
        reminder_lookahead=settings.reminder_lookahead,
    )


@dataclass
class PlanSummary:
    """What planning did, by notice kind and state (for the CLI and logs)."""

    planned: dict[str, int] = field(default_factory=dict)
    no_recipient: int = 0
    skipped: int = 0

    def add(self, other: PlanSummary) -> None:
        for kind, count in other.planned.items():
            self.planned[kind] = self.planned.get(kind, 0) + count
        self.no_recipient += other.no_recipient
        self.skipped += other.skipped


def plan_for_change(
    session: Session,
    gcr: Gcr,
    before: GcrState | None,
    after: GcrState,
    revision: int,
    settings: Settings,
    now: datetime,
) -> PlanSummary:
    """Plans every customer's notices for a new revision, and updates its calendar events.
    A chunk of customers at a time, each with its impacts as the database has them now
    (those of `after`, which need not carry them: a status change does not load them)."""
    summary = PlanSummary()
    if after.status is Status.DRAFT:
        return summary
    short_notice = needs_emergency_notice(after.windows, now=now, minimum=settings.minimum_notice, emergency=False)
    # The change as every customer sees it, but for its scope and digest, set per customer.
    change = CustomerChange(
        before=before.status if before else None,
        after=after.status,
        revision=revision,
        in_scope=False,
        digest=None,
        windows=after.windows,
        emergency=after.emergency,
        now=now,
        short_notice=short_notice,
    )
    # Contacts are judged on what they had heard before this change, not on what an
    # earlier chunk of it planned for them, and a pending notice this change skips was
    # never heard: the skips all come first. So chunk boundaries change nothing.
    heard_until = reads.last_notice_id(session, gcr.id)
    customers = reads.customers_to_plan(session, gcr.id)
    for chunk in customer_chunks(reads.customers_with_pending(session, gcr.id).intersection(customers)):
        summary.skipped += _skip_pending(session, gcr.id, change, chunk)
    later: list[Callable[[], object]] = []
    with writes_overlapped(session):
        for chunk in customer_chunks(customers):
            chunk_summary, later = _plan_chunk(session, gcr, after, change, chunk, heard_until, later)
            summary.add(chunk_summary)
        _run(later)
    return summary


def _skip_pending(session: Session, gcr_id: int, change: CustomerChange, chunk: list[int]) -> int:
    """Skips the pending notices of these customers that the change makes pointless."""
    standing = reads.standings(session, gcr_id, chunk, reads.audiences(session, gcr_id, chunk))
    services = reads.scope_of(session, gcr_id, chunk).services
    skips = [
        skip
        for cid in chunk
        for skip in pending_skips(standing[cid], replace(change, in_scope=bool(services.get(cid))))
    ]
    skip_notices(session, skips, change.now)
    return len(skips)


def _plan_chunk(
    session: Session,
    gcr: Gcr,
    after: GcrState,
    change: CustomerChange,
    chunk: list[int],
    heard_until: int,
    earlier: list[Callable[[], object]],
) -> tuple[PlanSummary, list[Callable[[], object]]]:
    """Plans a chunk of customers. Runs `earlier`, the previous chunk's writes that nothing
    reads back, once this chunk's reads are done: on PostgreSQL the database writes them
    while this chunk is computed (store.db.writes_overlapped). Returns what was planned,
    and this chunk's own such writes. Nothing a chunk reads is written by the one before:
    each reads only its own customers' rows, and contacts' notices up to `heard_until`."""
    known = reads.audiences(session, gcr.id, chunk)
    scope = reads.scope_of(session, gcr.id, chunk)
    standing = reads.standings(session, gcr.id, chunk, known)
    existing = existing_events(session, gcr.id, chunk)
    contacts = reads.contacts_by_customer(session, chunk)
    heard = reads.heard_contacts(session, gcr.id, {c.id for cs in contacts.values() for c in cs}, heard_until)
    _run(earlier)
    services = {cid: scope.services.get(cid, frozenset()) for cid in chunk}
    digests = {cid: own_digest(after, scope.impacts.get(cid, ())) for cid in chunk}
    plans = {
        cid: plan_change(standing[cid], replace(change, in_scope=bool(services[cid]), digest=digests[cid]))
        for cid in chunk
    }
    contents = {cid: digest.content for cid, digest in digests.items()}
    events = event_changes(gcr, after, change.revision, services, change.now, existing, contents)
    later: list[Callable[[], object]] = [partial(write_event_changes, session, events, change.now)]
    summary = write_plans(
        session,
        gcr.id,
        change.revision,
        plans,
        change.now,
        scope.impacts,
        heard_until,
        known=(contacts, heard),
        events=events.as_noticed,
        later=later,
    )
    standings = {cid: p.standing for cid, p in plans.items()}
    later.append(partial(save_audiences, session, gcr.id, standings, known, change.now))
    return summary, later


def _run(writes: list[Callable[[], object]]) -> None:
    for write in writes:
        write()


def customer_chunks(customer_ids: Collection[int]) -> Iterator[list[int]]:
    """The customers in the runs planning handles together, in id order."""
    return chunks(sorted(customer_ids), CHUNK)


def write_plans(
    session: Session,
    gcr_id: int,
    revision: int,
    plans: dict[int, CustomerPlan],
    now: datetime,
    owned: Mapping[int, tuple[ServiceImpact, ...]],
    heard_until: int | None = None,
    *,
    known: tuple[Mapping[int, list[ContactPrefs]], set[int]] | None = None,
    events: Mapping[int, dict] | None = None,
    later: list[Callable[[], object]] | None = None,
) -> PlanSummary:
    """Skips what the plans make pointless and inserts their notices with recipients.
    `owned`: each planned customer's impacts (reads.scope_of(...).impacts). `heard_until`:
    only notices up to this id count as heard (those before the change being planned).
    `known`: the customers' contacts and those that heard (reads.contacts_by_customer,
    reads.heard_contacts), if read already; `events` and `later`: as insert_notices takes them."""
    summary = PlanSummary()
    skips = [s for p in plans.values() for s in p.skips]
    skip_notices(session, skips, now)
    summary.skipped = len(skips)
    wanted = [(cid, n) for cid, p in plans.items() for n in p.notices]
    if not wanted:
        return summary
    if known is None:
        read = reads.contacts_by_customer(session, {cid for cid, _ in wanted})
        known = read, reads.heard_contacts(session, gcr_id, {c.id for cs in read.values() for c in cs}, heard_until)
    contacts, heard = known
    rows = [(cid, n, choose_recipients(contacts.get(cid, []), n.kind, owned.get(cid, ()), heard)) for cid, n in wanted]
    replan_cached_statements(session)  # the outbox tables grow by a chunk each time
    inserted = insert_notices(session, gcr_id, revision, rows, now, events, later)
    for customer_id, notice, chosen in inserted:
        summary.planned[notice.kind.value] = summary.planned.get(notice.kind.value, 0) + 1
        if not chosen:
            summary.no_recipient += 1
            if notice.kind.value in ("new", "emergency"):
                plans[customer_id] = _not_notified(plans[customer_id])
    return summary


def choose_recipients(
    contacts: list[ContactPrefs], kind: NoticeKind, impacts: Iterable[ServiceImpact], heard: set[int]
) -> list[ContactPrefs]:
    """The contacts of one customer that get a `kind` notice, given its own impacts."""
    return pick_recipients(contacts, kind, worst(i.impact for i in impacts), heard)


def _not_notified(plan: CustomerPlan) -> CustomerPlan:
    return replace(plan, standing=replace(plan.standing, notified=False, notified_at=None))
