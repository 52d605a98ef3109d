"""What `changemgmt status` shows: the processes and their heartbeats, the delivery
queue, and the last run of each clock job, as of `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from changemgmt.domain.states import DeliveryState
from changemgmt.store.models import ClockJob, Delivery, Process


@dataclass(frozen=True)
class ProcessLine:
    id: str
    kind: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime
    beat_age: float  # seconds since its last beat
    beating: bool  # its last beat is within the timeout
    late: bool  # it missed a beat: dead, stalled or slow, known within about one interval
    current_job: str | None
    leader: bool


@dataclass(frozen=True)
class JobLine:
    id: str
    runs: int
    failures: int
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_ok: bool | None
    last_error: str | None
    last_duration_ms: int | None
    last_process_id: str | None


@dataclass(frozen=True)
class Status:
    now: datetime
    processes: list[ProcessLine]
    deliveries: dict[str, int]  # how many deliveries in each state
    oldest_due_age: float | None  # seconds the longest-waiting due delivery has waited
    jobs: list[JobLine]


# A beat is late once this many intervals have passed since the last one (a beat takes a
# moment to write: exactly one interval would flag a process that is merely busy).
LATE_AFTER_INTERVALS = 1.5


def read_status(session: Session, now: datetime, timeout: float, interval: float) -> Status:
    """The processes not stopped (those silent for more than `timeout` seconds are shown
    not beating, those that missed a beat of `interval` seconds late), the deliveries by
    state, and the clock's jobs."""
    return Status(
        now,
        _processes(session, now, timeout, interval * LATE_AFTER_INTERVALS),
        _deliveries(session),
        _oldest_due(session, now),
        _jobs(session),
    )


def _processes(session: Session, now: datetime, timeout: float, late_after: float) -> list[ProcessLine]:
    rows = session.scalars(
        select(Process).where(Process.stopped_at.is_(None)).order_by(Process.kind, Process.started_at, Process.id)
    )
    lines = []
    for p in rows:
        age = max(0.0, (now - p.beat_at).total_seconds())
        lines.append(
            ProcessLine(
                p.id,
                p.kind,
                p.host,
                p.pid,
                p.started_at,
                p.beat_at,
                age,
                age <= timeout,
                age > late_after,
                p.current_job,
                p.leader,
            )
        )
    return lines


def _deliveries(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {
        state: count for state, count in session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
    }
    return {state.value: counts.get(state.value, 0) for state in DeliveryState}


def _oldest_due(session: Session, now: datetime) -> float | None:
    oldest = session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.state == DeliveryState.PENDING, Delivery.next_attempt_at <= now
        )
    )
    if oldest is None:
        return None
    if isinstance(oldest, str) or oldest.tzinfo is None:  # should the driver's value come back untyped
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=now.tzinfo)
    return max(0.0, (now - oldest).total_seconds())


def _jobs(session: Session) -> list[JobLine]:
    return [
        JobLine(
            j.id,
            j.runs,
            j.failures,
            j.last_started_at,
            j.last_finished_at,
            j.last_ok,
            j.last_error,
            j.last_duration_ms,
            j.last_process_id,
        )
        for j in session.scalars(select(ClockJob).order_by(ClockJob.id))
    ]
