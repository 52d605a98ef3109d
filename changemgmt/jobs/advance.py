"""Statuses that move as time passes (SPEC §3.1): a confirmed GCR starts at its first
window's start; a tentative one there is flagged to change management instead; an in
progress one completes at its last window's end plus a grace, when one is configured."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.domain.status import Status
from changemgmt.gcrs.service import Who, change_status
from changemgmt.store.models import AuditEntry, Gcr

CLOCK = "clock"


def advance_statuses(
    session: Session, settings: Settings, now: datetime, complete_after: timedelta | None = None
) -> list[str]:
    """Advances what is due; returns lines saying what it did."""
    done = []
    who = Who(CLOCK, now, settings)
    for gcr in _with_status(session, Status.CONFIRMED, Status.TENTATIVE):
        windows = [w for w in gcr.windows if w.dropped_at is None]
        if not windows or min(w.starts_at for w in windows) > now:
            continue
        if gcr.status == Status.CONFIRMED.value:
            change_status(session, gcr.number, Status.IN_PROGRESS, who)
            done.append(f"{gcr.number}: started")
        elif _flag_once(session, gcr, now):
            done.append(f"{gcr.number}: flagged (tentative at its window start)")
    if complete_after is not None:
        for gcr in _with_status(session, Status.IN_PROGRESS):
            ends = [w.ends_at for w in gcr.windows if w.dropped_at is None]
            if ends and max(ends) + complete_after <= now:
                change_status(session, gcr.number, Status.COMPLETED, who)
                done.append(f"{gcr.number}: completed")
    return done


def _with_status(session: Session, *statuses: Status) -> list[Gcr]:
    return list(session.scalars(select(Gcr).where(Gcr.status.in_([s.value for s in statuses])).order_by(Gcr.id)))


def _flag_once(session: Session, gcr: Gcr, now: datetime) -> bool:
    flagged = session.scalar(
        select(AuditEntry.id).where(
            AuditEntry.entity == "gcr", AuditEntry.entity_key == gcr.number, AuditEntry.action == "flag"
        )
    )
    if flagged:
        return False
    session.add(
        AuditEntry(
            at=now,
            actor=CLOCK,
            entity="gcr",
            entity_key=gcr.number,
            action="flag",
            details={"attention": "still tentative at its first window's start; start or cancel it"},
        )
    )
    return True
