"""Statuses that move as time passes (SPEC §3.1): a confirmed GCR starts at its first
window's start; a tentative one there is flagged to change management instead; an in
progress one completes at its last window's end plus a grace, when one is configured,
and is flagged as overdue for completion at its last window's end when none is.

Each function takes one GCR that the caller has locked and read under that lock
(store.queries), so a GCR another tick just started is seen started and left alone."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.domain.status import Status
from changemgmt.gcrs.service import Who, change_status
from changemgmt.store.models import AuditEntry, Gcr

log = logging.getLogger(__name__)

CLOCK = "clock"

# What a flag asks of change management, by the kind of flag (audit entries' details).
TENTATIVE_AT_START = "tentative_at_start"
OVERDUE = "overdue_for_completion"
ATTENTION = {
    TENTATIVE_AT_START: "still tentative at its first window's start; start or cancel it",
    OVERDUE: "in progress past its last window's end; complete it",
}


def advance_gcr(session: Session, settings: Settings, gcr: Gcr, now: datetime) -> list[str]:
    """Starts, completes or flags `gcr` as due by `now`; returns lines saying what it did."""
    windows = [w for w in gcr.windows if w.dropped_at is None]
    if not windows:
        return []
    status, who = Status(gcr.status), Who(CLOCK, now, settings)
    if status in (Status.CONFIRMED, Status.TENTATIVE) and min(w.starts_at for w in windows) <= now:
        if status is Status.CONFIRMED:
            change_status(session, gcr.number, Status.IN_PROGRESS, who)
            return [f"{gcr.number}: started"]
        if flag_once(session, gcr, TENTATIVE_AT_START, now):
            return [f"{gcr.number}: flagged (tentative at its window start)"]
    complete_after = settings.auto_complete_after
    if status is Status.IN_PROGRESS and complete_after is not None:
        if max(w.ends_at for w in windows) + complete_after <= now:
            change_status(session, gcr.number, Status.COMPLETED, who)
            return [f"{gcr.number}: completed"]
    return []


def flag_overdue(session: Session, settings: Settings, gcr: Gcr, now: datetime) -> list[str]:
    """Flags `gcr` once when it is in progress past its last window's end and nothing
    will complete it (automatic completion is off)."""
    if gcr.status != Status.IN_PROGRESS.value or settings.auto_complete_after is not None:
        return []
    ends = [w.ends_at for w in gcr.windows if w.dropped_at is None]
    if not ends or max(ends) > now or not flag_once(session, gcr, OVERDUE, now):
        return []
    return [f"{gcr.number}: flagged (overdue for completion)"]


def flag_once(session: Session, gcr: Gcr, kind: str, now: datetime) -> bool:
    """Records a flag of `kind` for change management (an audit entry, and a log line)
    unless the GCR has one already; True when it was recorded now."""
    earlier = session.scalars(
        select(AuditEntry.details).where(
            AuditEntry.entity == "gcr", AuditEntry.entity_key == gcr.number, AuditEntry.action == "flag"
        )
    )
    # Flags written before there were several kinds said only what they asked.
    if any(details.get("flag", TENTATIVE_AT_START) == kind for details in earlier):
        return False
    session.add(
        AuditEntry(
            at=now,
            actor=CLOCK,
            entity="gcr",
            entity_key=gcr.number,
            action="flag",
            details={"flag": kind, "attention": ATTENTION[kind]},
        )
    )
    log.warning("%s flagged to change management: %s", gcr.number, ATTENTION[kind])
    return True
