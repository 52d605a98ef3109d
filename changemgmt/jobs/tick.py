"""What falls due as time passes, in one function of `now` that the clock runs every
few seconds (and `changemgmt plan` on demand): automatic start and completion, flags for
change management, reminders and late first notices.

Two ticks may run at once (two clocks during a takeover, a `plan --at` by hand): each
GCR is handled under its lock and judged as it stands then (store.queries), so the
second tick finds the work done and does nothing, rather than failing or doing it twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.domain.status import Status
from changemgmt.jobs.advance import advance_gcr, flag_overdue
from changemgmt.planning.due import plan_due
from changemgmt.planning.outbox import PlanSummary
from changemgmt.store.db import transaction
from changemgmt.store.models import Gcr
from changemgmt.store.queries import try_lock_gcr

log = logging.getLogger(__name__)

# The statuses in which time still moves a GCR: it may start, complete, or get reminders.
ACTIVE = (Status.TENTATIVE, Status.CONFIRMED, Status.IN_PROGRESS)


@dataclass
class TickResult:
    advanced: list[str] = field(default_factory=list)
    planned: PlanSummary = field(default_factory=PlanSummary)
    busy: list[str] = field(default_factory=list)  # GCRs another transaction held: for the next tick

    def add(self, other: TickResult) -> None:
        self.advanced += other.advanced
        self.planned.add(other.planned)
        self.busy += other.busy


class TickFailed(Exception):
    """Some GCRs could not be handled (each was logged); the others were."""

    def __init__(self, result: TickResult, failures: dict[str, str]) -> None:
        self.result, self.failures = result, failures
        named = "; ".join(f"{number}: {error}" for number, error in failures.items())
        super().__init__(f"{len(failures)} GCR(s) failed: {named}")


def active_gcrs(session: Session, statuses=ACTIVE) -> list[tuple[int, str]]:
    """(id, number) of the GCRs in these statuses, oldest first."""
    wanted = [s.value for s in statuses]
    return [
        (row.id, row.number)
        for row in session.execute(select(Gcr.id, Gcr.number).where(Gcr.status.in_(wanted)).order_by(Gcr.id))
    ]


def tick_gcr(session: Session, settings: Settings, gcr_id: int, number: str, now: datetime) -> TickResult:
    """Everything due by `now` for one GCR, under its lock; a GCR another transaction is
    changing right now is left for the next tick (it is in `busy`)."""
    gcr = try_lock_gcr(session, gcr_id)
    if gcr is None:
        return TickResult(busy=[number])
    advanced = advance_gcr(session, settings, gcr, now)
    return TickResult(advanced, plan_due(session, gcr, settings, now))


def tick_in(session: Session, settings: Settings, now: datetime) -> TickResult:
    """One tick inside the caller's transaction (`plan`; opened with BEGIN IMMEDIATE on
    SQLite, as store.db.transaction does): all of it is kept, or none."""
    result = TickResult()
    for gcr_id, number in active_gcrs(session):
        result.add(tick_gcr(session, settings, gcr_id, number, now))
    return result


def tick(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> TickResult:
    """One tick, each GCR in a transaction of its own: one that fails is rolled back,
    logged and left for the next tick while the others go on; then TickFailed names it."""
    return _each_gcr(sessions, ACTIVE, lambda session, gcr_id, number: tick_gcr(session, settings, gcr_id, number, now))


def flag_overdue_gcrs(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> TickResult:
    """Flags, once each, the GCRs in progress past their last window's end when nothing
    will complete them (automatic completion is off)."""

    def flag(session: Session, gcr_id: int, number: str) -> TickResult:
        gcr = try_lock_gcr(session, gcr_id)
        return TickResult(busy=[number]) if gcr is None else TickResult(flag_overdue(session, settings, gcr, now))

    if settings.auto_complete_after is not None:
        return TickResult()
    return _each_gcr(sessions, (Status.IN_PROGRESS,), flag)


def _each_gcr(sessions: sessionmaker[Session], statuses, step) -> TickResult:
    with sessions() as session:
        gcrs = active_gcrs(session, statuses)
    result, failures = TickResult(), {}
    for gcr_id, number in gcrs:
        try:
            with transaction(sessions) as session:
                result.add(step(session, gcr_id, number))
        except Exception as exc:  # noqa: BLE001 - one GCR fails alone; the job reports it
            log.error("clock: %s could not be handled: %s", number, exc, exc_info=True)
            failures[number] = f"{type(exc).__name__}: {exc}"
    if failures:
        raise TickFailed(result, failures)
    return result
