"""Creating and changing GCRs. Each call is one step inside the caller's transaction:
it validates, writes the new state, records a revision for a customer-visible change
and an audit entry for every change. Bad input raises DomainError and writes nothing
(the caller's transaction rolls back). A change first locks the GCR (store.queries.lock_gcr)
and judges it as it stands under the lock, so concurrent changes to one GCR take turns."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.domain.conflicts import Blackout, Conflict, check_blackout_override
from changemgmt.domain.errors import DomainError, Problems
from changemgmt.domain.gcr import (
    GcrState,
    changed_fields,
    check_details,
    check_number,
    check_published_impacts,
    check_state,
    is_customer_visible,
)
from changemgmt.domain.policy import check_minimum_notice, check_override_reason, check_windows_ahead
from changemgmt.domain.status import Status, check_transition
from changemgmt.domain.text import NAME_MAX, one_line
from changemgmt.gcrs.blackouts import refuse_blackouts
from changemgmt.gcrs.conflicts import conflicts_of
from changemgmt.gcrs.input import GcrPatch
from changemgmt.gcrs.state import apply_patch, next_window_number, unknown_references, write_details, write_state
from changemgmt.planning.outbox import PlanSummary, plan_for_change
from changemgmt.store import models
from changemgmt.store.gcr_state import details_of, has_impacts, state_of
from changemgmt.store.queries import lock_gcr
from changemgmt.store.revisions import record_impacts, revision_json

REQUIRED = ("title", "description", "windows")
# A change to these may make or end a conflict (SPEC §8): the change reports them.
CONFLICTING = frozenset({"windows", "impacts", "location_codes"})
REASON_MAX = 500  # why a status changed (a cancellation's reason): one line


@dataclass(frozen=True)
class GcrChange:
    """What a call did: the fields it changed and the revision it made, if any."""

    gcr: models.Gcr
    before: GcrState | None
    after: GcrState
    changes: frozenset[str]
    revision: int | None
    plan: PlanSummary | None = None
    # Other published GCRs overlapping it on a service, customer or location, reported on
    # create, on a change of windows, impacts or locations, and on publishing.
    conflicts: tuple[Conflict, ...] = ()
    blackouts_overridden: tuple[Blackout, ...] = ()  # recorded in the audit entry with the reason


@dataclass(frozen=True)
class Who:
    """Who makes a change, and when. The actor is recorded: one line of text."""

    actor: str
    now: datetime
    settings: Settings

    def __post_init__(self) -> None:
        object.__setattr__(self, "actor", one_line(self.actor, "actor", NAME_MAX, required=True))


def create_gcr(session: Session, patch: GcrPatch, who: Who) -> GcrChange:
    """Creates a draft GCR at revision 1. A patch that does not make a valid GCR is
    refused with every problem found at once, those of reading it included."""
    problems = _problems_of(patch)
    with problems.checking():
        number = _new_number(session, patch, who.settings)
    for name in REQUIRED:
        if getattr(patch, name) is None and not patch.failed(name):
            problems.add(name, "is required for a new GCR")
    state = None
    if not problems and patch.title is not None and patch.description is not None:  # (required: both are set)
        empty = GcrState(number=number, title=patch.title, description=patch.description)
        with problems.checking():
            state = _checked_state(empty, apply_patch(empty, patch, next_window_number=1), who)
    _refuse(session, problems, patch)
    assert state is not None  # _refuse raised the problems that left it unset
    gcr = models.Gcr(number=number, revision=0, created_at=who.now, updated_at=who.now, created_by=who.actor)
    session.add(gcr)
    write_state(session, gcr, state, who.now)
    change = _record(session, gcr, None, state, "create", who)
    return replace(change, conflicts=conflicts_of(session, gcr))


def update_gcr(
    session: Session,
    number: str,
    patch: GcrPatch,
    who: Who,
    override_reason: str | None = None,
    blackout_override: str | None = None,
) -> GcrChange:
    """Changes the fields the patch gives. Status changes go through change_status. A
    patch that does not leave a valid GCR is refused with every problem found at once.
    Moving a published GCR's window into a blackout needs `blackout_override` (a reason)."""
    override_reason = check_override_reason(override_reason)
    blackout_override = check_blackout_override(blackout_override)
    gcr = lock_gcr(session, number)
    before = state_of(gcr)
    if before.status.is_final:
        raise DomainError("status", f"{number} is {before.status.value}; it can no longer be changed")
    problems = _problems_of(patch)
    if patch.status is not None:
        problems.add("status", "use publish, start, complete or cancel to change the status")
    if patch.number is not None and patch.number != number:
        problems.add("number", "a GCR number never changes")
    after = None
    if not patch.problems:
        with problems.checking():
            after = _checked_state(before, apply_patch(before, patch, next_window_number(gcr)), who)
            if before.status.is_published:  # notice is about starts: a window that only ends later needs none
                starts = {w.number: w.start for w in before.windows}
                moved = [w for w in after.windows if starts.get(w.number) != w.start]
                check_minimum_notice(
                    moved,
                    now=who.now,
                    minimum=who.settings.minimum_notice,
                    emergency=after.emergency,
                    override_reason=override_reason,
                )
    _refuse(session, problems, patch)
    assert after is not None  # _refuse raised the problems that left it unset
    write_state(session, gcr, after, who.now, before)
    overridden: tuple[Blackout, ...] = ()
    if before.status.is_published:
        old = {w.number: (w.start, w.end) for w in before.windows}
        moved = [w for w in after.windows if old.get(w.number) != (w.start, w.end)]
        overridden = refuse_blackouts(session, gcr, moved, blackout_override)
    change = _record(
        session,
        gcr,
        before,
        after,
        "update",
        who,
        override_reason,
        blackout_override=blackout_override,
        overridden=overridden,
    )
    conflicts = conflicts_of(session, gcr) if change.changes & CONFLICTING else ()
    return replace(change, conflicts=conflicts, blackouts_overridden=overridden)


def _problems_of(patch: GcrPatch) -> Problems:
    problems = Problems()
    problems.errors.extend(patch.problems)
    return problems


def _new_number(session: Session, patch: GcrPatch, settings: Settings) -> str:
    if patch.number is None:
        if patch.failed("number"):
            return ""  # already a problem
        raise DomainError("number", "a new GCR needs its number")
    number = check_number(patch.number, settings.gcr_number_regex)
    if session.query(models.Gcr.id).filter_by(number=number).first():
        raise DomainError("number", f"{number} already exists")
    return number


def _checked_state(before: GcrState, after: GcrState, who: Who) -> GcrState:
    """`after`, once it passed the GCR's rules and has no window set in the past."""
    problems = Problems()
    with problems.checking():
        check_state(after, who.settings.gcr_number_regex)
    with problems.checking():
        check_windows_ahead(before.windows, after.windows, who.now)
    problems.raise_any()
    return after


def _refuse(session: Session, problems: Problems, patch: GcrPatch) -> None:
    """Raises the problems found, if any, with the services and locations the patch
    names that do not exist (looked up here only when nothing is to be written)."""
    if problems:
        problems.errors.extend(unknown_references(session, patch))
        problems.raise_any()


ACTIONS = {
    Status.TENTATIVE: "publish",
    Status.CONFIRMED: "publish",
    Status.IN_PROGRESS: "start",
    Status.COMPLETED: "complete",
    Status.CANCELLED: "cancel",
}


def change_status(
    session: Session,
    number: str,
    target: Status,
    who: Who,
    override_reason: str | None = None,
    reason: str | None = None,
    blackout_override: str | None = None,
) -> GcrChange:
    """Publishes, confirms, starts, completes or cancels, as the status machine allows;
    `reason` (why it is cancelled, say) is recorded in the audit trail. The impacts stay
    as they are, in the database: `before` and `after` have none. Publishing into a
    blackout needs `blackout_override` (a reason)."""
    override_reason = check_override_reason(override_reason)
    reason = (one_line(reason, "reason", REASON_MAX) or None) if reason is not None else None
    blackout_override = check_blackout_override(blackout_override)
    gcr = lock_gcr(session, number)
    before = details_of(gcr)
    check_transition(before.status, target)
    after = replace(before, status=target)
    if target is Status.COMPLETED:
        # Completing ends the GCR: windows not yet started are not needed (SPEC §3.1).
        after = replace(after, windows=tuple(w for w in before.windows if w.start <= who.now) or before.windows[:1])
    check_details(after, who.settings.gcr_number_regex)
    check_published_impacts(after.status, has_impacts(gcr))
    publishing = before.status is Status.DRAFT and target.is_published and target is not Status.CANCELLED
    overridden: tuple[Blackout, ...] = ()
    if publishing:
        check_minimum_notice(
            after.windows,
            now=who.now,
            minimum=who.settings.minimum_notice,
            emergency=after.emergency,
            override_reason=override_reason,
        )
        overridden = refuse_blackouts(session, gcr, after.windows, blackout_override)
    action = ACTIONS[target]
    if before.status is Status.TENTATIVE and target is Status.CONFIRMED:
        action = "confirm"
    write_details(session, gcr, after, who.now)
    change = _record(session, gcr, before, after, action, who, override_reason, reason, blackout_override, overridden)
    conflicts = conflicts_of(session, gcr) if publishing else ()
    return replace(change, conflicts=conflicts, blackouts_overridden=overridden)


def _record(
    session: Session,
    gcr: models.Gcr,
    before: GcrState | None,
    after: GcrState,
    action: str,
    who: Who,
    override_reason: str | None = None,
    reason: str | None = None,
    blackout_override: str | None = None,
    overridden: tuple[Blackout, ...] = (),
) -> GcrChange:
    changes = changed_fields(before, after) if before else frozenset({"created"})
    revision = None
    if before is None or is_customer_visible(changes):
        gcr.revision += 1
        revision = gcr.revision
        session.add(
            models.Revision(
                gcr=gcr,
                number=revision,
                created_at=who.now,
                actor=who.actor,
                changes=sorted(changes),
                state=revision_json(after),
            )
        )
    if changes:
        gcr.updated_at = who.now
        details: dict[str, object] = {"changes": sorted(changes), "revision": revision}
        if override_reason:
            details["override_reason"] = override_reason
        if reason:
            details["reason"] = reason
        if overridden:
            details["blackout_override"] = blackout_override
            details["blackouts"] = [b.to_json() for b in overridden]
        session.add(
            models.AuditEntry(
                at=who.now, actor=who.actor, entity="gcr", entity_key=gcr.number, action=action, details=details
            )
        )
    session.flush()
    if revision is not None and (before is None or "impacts" in changes):  # (both make a revision)
        record_impacts(session, gcr.id, revision)
    plan = None
    if revision is not None:
        plan = plan_for_change(session, gcr, before, after, revision, who.settings, who.now)
    return GcrChange(gcr, before, after, changes, revision, plan)
