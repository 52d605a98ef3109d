"""Notices that fall due as time passes: reminders, and `new` for a customer that had no
eligible contact when the GCR was published and has one now (SPEC §3.1). One function
of the GCR and `now`, idempotent: calling it twice, or in two processes at once (each
under the GCR's lock, one after the other), plans nothing twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.domain.digests import customer_digest
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.planner import (
    REMINDER_STATUSES,
    CustomerPlan,
    PlannedNotice,
    first_notice_kind,
    plan_reminders,
    reminder_key,
)
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window
from changemgmt.planning import reads
from changemgmt.planning.outbox import PlanSummary, choose_recipients, customer_chunks, policy_of, write_plans
from changemgmt.planning.writes import save_audiences
from changemgmt.store.bulk import among
from changemgmt.store.gcr_state import details_of
from changemgmt.store.models import Audience, Contact, Customer, Gcr, Notice


def plan_due(session: Session, gcr: Gcr, settings: Settings, now: datetime) -> PlanSummary:
    """Plans what fell due for `gcr` by `now`. The caller holds the GCR's lock
    (store.queries.lock_gcr or try_lock_gcr) and has read it under that lock; everything
    here is read under it too, so a notice another tick (or `plan`) just planned is seen
    and not planned again, even one whose key holds that tick's time (a late `new`)."""
    if Status(gcr.status) not in REMINDER_STATUSES:
        return PlanSummary()
    if not any(w.dropped_at is None and w.starts_at > now for w in gcr.windows):
        return PlanSummary()
    return _plan_gcr(session, gcr, settings, now)


def _plan_gcr(session: Session, gcr: Gcr, settings: Settings, now: datetime) -> PlanSummary:
    summary = PlanSummary()
    if _reminders_owed(session, gcr, settings, now):
        summary.add(_plan_reminders(session, gcr, settings, now))
    if _someone_waiting(session, gcr.id):
        summary.add(_revive(session, gcr, details_of(gcr), _waiting(session, gcr.id), settings, now))
    return summary


def _active_windows(gcr: Gcr) -> tuple[Window, ...]:
    return tuple(Window(w.number, w.starts_at, w.ends_at) for w in gcr.windows if w.dropped_at is None)


def _reminders_owed(session: Session, gcr: Gcr, settings: Settings, now: datetime) -> bool:
    """A cheap check run on every tick: does any due reminder moment still lack notices?"""
    set_at = {w.number: w.times_set_at for w in gcr.windows}
    for window in _active_windows(gcr):
        for offset in settings.reminder_offsets:
            moment = window.start - offset
            if not (set_at[window.number] <= moment <= now + settings.reminder_lookahead and now < window.start):
                continue
            owed = session.execute(
                select(func.count())
                .select_from(Audience)
                .where(
                    Audience.gcr_id == gcr.id,
                    Audience.in_scope.is_(True),
                    Audience.notified.is_(True),
                    Audience.notified_at < moment,
                )
            ).scalar_one()
            have = session.execute(
                select(func.count())
                .select_from(Notice)
                .where(
                    Notice.gcr_id == gcr.id,
                    Notice.kind == NoticeKind.REMINDER.value,
                    Notice.key.endswith(":" + reminder_key(window, offset, moment)),
                )
            ).scalar_one()
            if owed > have:
                return True
    return False


def _waiting_where(gcr_id: int):
    return (Audience.gcr_id == gcr_id, Audience.in_scope.is_(True), Audience.notified.is_(False))


def _waiting(session: Session, gcr_id: int) -> dict[int, Audience]:
    """The audience rows of the customers in scope still without a first notice."""
    return {a.customer_id: a for a in session.scalars(select(Audience).where(*_waiting_where(gcr_id)))}


def _someone_waiting(session: Session, gcr_id: int) -> bool:
    """Is a customer in scope still without a first notice, and has it any contact to try?"""
    waiting = select(Audience.customer_id).where(*_waiting_where(gcr_id))
    parents = select(Customer.parent_id).where(Customer.id.in_(waiting))
    reachable = select(Contact.id).where(
        Contact.customer_id.in_(waiting) | Contact.customer_id.in_(parents),
        Contact.unsubscribed_at.is_(None),
        Contact.suppressed_at.is_(None),
    )
    return session.scalar(select(reachable.exists())) or False


def _plan_reminders(session: Session, gcr: Gcr, settings: Settings, now: datetime) -> PlanSummary:
    """The reminders due by `now`, a chunk of customers at a time (memory stays flat as the
    GCR grows); contacts are judged on what they had heard before this tick."""
    heard_until = reads.last_notice_id(session, gcr.id)
    status, windows, policy = Status(gcr.status), _active_windows(gcr), policy_of(settings)
    times_set_at = {w.number: w.times_set_at for w in gcr.windows}
    summary = PlanSummary()
    for chunk in customer_chunks(reads.in_scope_customers(session, gcr.id)):
        known = reads.audiences(session, gcr.id, chunk)
        existing = _existing_reminder_keys(session, gcr.id, chunk)
        plans: dict[int, CustomerPlan] = {}
        for customer_id in chunk:
            standing = reads.standing_of(known.get(customer_id))
            due = plan_reminders(
                standing, status=status, windows=windows, times_set_at=times_set_at, policy=policy, now=now
            )
            fresh = tuple(n for n in due if (customer_id, n.key) not in existing)
            if fresh:
                plans[customer_id] = CustomerPlan(standing, fresh)
        if plans:
            owned = reads.scope_of(session, gcr.id, list(plans)).impacts
            summary.add(write_plans(session, gcr.id, gcr.revision, plans, now, owned, heard_until))
    return summary


def _existing_reminder_keys(session: Session, gcr_id: int, customer_ids: list[int]) -> set[tuple[int, str]]:
    rows = session.execute(
        select(Notice.customer_id, Notice.key).where(
            Notice.gcr_id == gcr_id, Notice.kind == NoticeKind.REMINDER.value, among(Notice.customer_id, customer_ids)
        )
    )
    return {(customer_id, key.split(":", 1)[1]) for customer_id, key in rows}


def _revive(
    session: Session, gcr: Gcr, state, known: dict[int, Audience], settings: Settings, now: datetime
) -> PlanSummary:
    """Plans `new` for customers still in scope but never notified (`known`: their audience
    rows), once a contact of theirs would receive it, while the GCR has not started.
    `state`: the GCR's, without impacts."""
    waiting = sorted(known)
    if not waiting or state.status not in (Status.TENTATIVE, Status.CONFIRMED):
        return PlanSummary()
    if min(w.start for w in state.windows) <= now:
        return PlanSummary()
    kind = first_notice_kind(publishing=False, emergency=state.emergency, short_notice=False)
    scope = reads.scope_of(session, gcr.id, waiting)
    contacts = reads.contacts_by_customer(session, waiting)
    heard = reads.heard_contacts(session, gcr.id, {c.id for cs in contacts.values() for c in cs})
    owned = scope.impacts
    ready = [cid for cid in waiting if choose_recipients(contacts.get(cid, []), kind, owned.get(cid, ()), heard)]
    if not ready:
        return PlanSummary()
    standing = reads.standings(session, gcr.id, ready, known)
    plans = {}
    for customer_id in ready:
        digest = customer_digest(
            replace(state, impacts=owned.get(customer_id, ())), scope.services.get(customer_id, frozenset())
        )
        notice = PlannedNotice(kind, f"{kind.value}:r{gcr.revision}:at{now:%Y%m%dT%H%M%S}", now)
        after = replace(
            standing[customer_id], notified=True, notified_at=now, shown=digest, shown_revision=gcr.revision
        )
        plans[customer_id] = CustomerPlan(after, (notice,))
    summary = write_plans(session, gcr.id, gcr.revision, plans, now, owned)
    save_audiences(session, gcr.id, {cid: p.standing for cid, p in plans.items()}, known, now)
    return summary
