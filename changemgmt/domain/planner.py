"""The planner: which notices one customer should get about one GCR (SPEC §3).

Pure functions of (what the customer was told, the GCR before and after, policy, now).
The outbox feeds them one customer at a time and writes what they return.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from changemgmt.domain.digests import Digest
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window

NO_LONGER_AFFECTED = "This maintenance no longer affects your services."
REMINDER_STATUSES = frozenset({Status.TENTATIVE, Status.CONFIRMED, Status.IN_PROGRESS})


@dataclass(frozen=True)
class Policy:
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=72), timedelta(hours=24))
    minimum_notice: timedelta = timedelta(days=7)
    # Reminders are planned this long before their moment, so that they are in the outbox,
    # due at their moment, when it comes: planning a big GCR's reminders takes seconds.
    reminder_lookahead: timedelta = timedelta(0)


@dataclass(frozen=True)
class PendingNotice:
    """A planned notice that is not yet in flight, so it can still be skipped."""

    id: int
    kind: NoticeKind
    window_number: int | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class Standing:
    """What we know of one customer on one GCR before the change."""

    in_scope: bool = False
    notified: bool = False  # planned a new/emergency with recipients, not dropped since
    notified_at: datetime | None = None
    delivered: bool = False  # some notice about the GCR reached it (sent or in flight)
    shown_revision: int | None = None
    shown: Digest | None = None
    pending: tuple[PendingNotice, ...] = ()


@dataclass(frozen=True)
class PlannedNotice:
    kind: NoticeKind
    key: str
    due_at: datetime
    previous_revision: int | None = None
    note: str = ""
    window_number: int | None = None
    offset: timedelta | None = None


@dataclass(frozen=True)
class Skip:
    notice_id: int
    reason: str


@dataclass(frozen=True)
class CustomerPlan:
    standing: Standing
    notices: tuple[PlannedNotice, ...] = ()
    skips: tuple[Skip, ...] = field(default=())


@dataclass(frozen=True)
class CustomerChange:
    """A GCR change as one customer sees it."""

    before: Status | None  # None: the GCR did not exist
    after: Status
    revision: int
    in_scope: bool
    digest: Digest | None  # what the customer is shown after it; None: not computed (pending_skips needs none)
    windows: tuple[Window, ...]
    emergency: bool  # the GCR's emergency flag
    now: datetime
    short_notice: bool = False  # a window starts within the minimum notice from `now`


def plan_change(standing: Standing, change: CustomerChange) -> CustomerPlan:
    """The notices a revision causes for one customer, and the pending ones it makes pointless."""
    skips = pending_skips(standing, change)
    if change.after is Status.DRAFT:
        return CustomerPlan(replace(standing, in_scope=change.in_scope))
    if change.after is Status.CANCELLED:
        return _cancelled(standing, change, skips)
    if not change.in_scope:
        return _dropped(standing, change, skips) if standing.in_scope else CustomerPlan(standing)
    publishing = change.before in (None, Status.DRAFT)
    if publishing or not standing.in_scope:
        kind = first_notice_kind(publishing=publishing, emergency=change.emergency, short_notice=change.short_notice)
        return _shown(standing, change, kind, skips, notified=True)
    follow_up = _follow_up(standing, change)
    if follow_up is None:
        return CustomerPlan(replace(standing, in_scope=True), skips=skips)
    return _shown(standing, change, follow_up, skips, notified=standing.notified)


def first_notice_kind(*, publishing: bool, emergency: bool, short_notice: bool) -> NoticeKind:
    """The kind of a customer's first notice about a GCR (SPEC §3.1, Kinds): `emergency`
    for an emergency GCR, or when publishing within the minimum notice (which needed an
    explicit override); a customer added later, or whose first eligible contact appears
    later, to a routine GCR gets `new` however close its window is."""
    if emergency or (publishing and short_notice):
        return NoticeKind.EMERGENCY
    return NoticeKind.NEW


def pending_skips(standing: Standing, change: CustomerChange) -> tuple[Skip, ...]:
    """The pending notices of one customer that a revision makes pointless. It needs of
    `change` only its status, windows and whether the customer is in scope (no digest)."""
    if not standing.pending or change.after is Status.DRAFT:
        return ()
    if change.after is Status.CANCELLED:
        return tuple(Skip(p.id, "the GCR was cancelled before this notice was sent") for p in standing.pending)
    if not change.in_scope:
        if not standing.in_scope:
            return ()
        return tuple(
            Skip(p.id, "the customer was dropped from the GCR before this notice was sent") for p in standing.pending
        )
    return tuple(_stale_reminders(standing.pending, change.windows, change.after))


def _follow_up(standing: Standing, change: CustomerChange) -> NoticeKind | None:
    """What a change says to a customer in scope before and after it: `started` and
    `completed` to every one (SPEC §3: "impacted customers"), the others only to those
    already notified (a customer still without an eligible contact is not chased)."""
    if change.after is not change.before and change.after is Status.IN_PROGRESS:
        return NoticeKind.STARTED
    if change.after is not change.before and change.after is Status.COMPLETED:
        return NoticeKind.COMPLETED
    if not standing.notified:
        return None
    if change.digest is None:
        raise ValueError("a follow-up notice is planned against the customer's digest, and the change has none")
    if standing.shown is None or change.digest.windows != standing.shown.windows:
        return NoticeKind.RESCHEDULED
    if change.digest.content != standing.shown.content:
        return NoticeKind.UPDATED
    return None


def _shown(
    standing: Standing, change: CustomerChange, kind: NoticeKind, skips: tuple[Skip, ...], notified: bool
) -> CustomerPlan:
    first = kind in (NoticeKind.NEW, NoticeKind.EMERGENCY)
    notice = PlannedNotice(
        kind,
        f"{kind.value}:r{change.revision}",
        change.now,
        previous_revision=None if first else standing.shown_revision,
    )
    after = replace(
        standing,
        in_scope=True,
        notified=notified,
        shown_revision=change.revision,
        shown=change.digest,
        notified_at=change.now if notified and not standing.notified else standing.notified_at,
    )
    return CustomerPlan(after, (notice,), skips)


def _cancelled(standing: Standing, change: CustomerChange, skips: tuple[Skip, ...]) -> CustomerPlan:
    notices: tuple[PlannedNotice, ...] = ()
    if standing.delivered and standing.in_scope and change.before is not Status.CANCELLED:
        notices = (
            PlannedNotice(
                NoticeKind.CANCELLED,
                f"cancelled:r{change.revision}",
                change.now,
                previous_revision=standing.shown_revision,
            ),
        )
    return CustomerPlan(replace(standing, shown_revision=change.revision, shown=change.digest), notices, skips)


def _dropped(standing: Standing, change: CustomerChange, skips: tuple[Skip, ...]) -> CustomerPlan:
    notices: tuple[PlannedNotice, ...] = ()
    if standing.delivered:
        notices = (
            PlannedNotice(
                NoticeKind.CANCELLED,
                f"cancelled:r{change.revision}",
                change.now,
                previous_revision=standing.shown_revision,
                note=NO_LONGER_AFFECTED,
            ),
        )
    after = Standing(in_scope=False, delivered=standing.delivered)
    return CustomerPlan(after, notices, skips)


def _stale_reminders(pending: Iterable[PendingNotice], windows: tuple[Window, ...], status: Status) -> Iterator[Skip]:
    starts = {w.number: w.start for w in windows}
    for notice in pending:
        if notice.kind is not NoticeKind.REMINDER:
            continue
        if status not in REMINDER_STATUSES:
            yield Skip(notice.id, f"the GCR is {status.value}")
        elif notice.window_number not in starts:
            yield Skip(notice.id, "its window was dropped")
        elif notice.due_at is not None and notice.due_at >= starts[notice.window_number]:
            yield Skip(notice.id, "its window has started")


def reminder_key(window: Window, offset: timedelta, due_at: datetime) -> str:
    return f"reminder:w{window.number}:{int(offset.total_seconds() // 60)}m:{due_at:%Y%m%dT%H%M%SZ}"


def plan_reminders(
    standing: Standing,
    *,
    status: Status,
    windows: tuple[Window, ...],
    times_set_at: dict[int, datetime],
    policy: Policy,
    now: datetime,
) -> list[PlannedNotice]:
    """Reminders due by `now` plus the policy's lookahead for one customer, each due at
    its moment (the outbox drops keys it already has).

    A reminder whose moment came before its window's times were last set was superseded
    by that reschedule; one whose window has started is no longer sent.
    """
    horizon = now + policy.reminder_lookahead
    if status not in REMINDER_STATUSES or not (standing.in_scope and standing.notified):
        return []
    due = []
    for window in windows:
        if window.start <= now:
            continue
        for offset in policy.reminder_offsets:
            moment = window.start - offset
            if moment > horizon or moment < times_set_at.get(window.number, moment):
                continue
            if standing.notified_at is None or standing.notified_at >= moment:
                continue  # only customers notified before the moment: the first notice itself is news enough
            due.append(
                PlannedNotice(
                    NoticeKind.REMINDER,
                    reminder_key(window, offset, moment),
                    moment,
                    window_number=window.number,
                    offset=offset,
                )
            )
    return due
