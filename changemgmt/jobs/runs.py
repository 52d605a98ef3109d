"""The record of the clock's jobs in `clock_jobs`: for each job, how many runs and
failures, and its last run: start, finish, outcome, error, duration and the process
that ran it. `changemgmt status` shows it; daily jobs read it to know whether they are due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.store.bulk import insert_rows
from changemgmt.store.db import transaction
from changemgmt.store.models import ClockJob

ERROR_MAX = 2000  # characters of an error kept


@dataclass(frozen=True)
class Outcome:
    ok: bool
    said: str  # what the job did, or its error
    duration_ms: int


def record_start(sessions: sessionmaker[Session], job_id: str, process_id: str, now: datetime) -> None:
    with transaction(sessions) as session:
        _ensure(session, job_id)
        session.execute(
            update(ClockJob).where(ClockJob.id == job_id).values(last_started_at=now, last_process_id=process_id)
        )


def record_finish(sessions: sessionmaker[Session], job_id: str, now: datetime, outcome: Outcome) -> None:
    with transaction(sessions) as session:
        _ensure(session, job_id)
        session.execute(
            update(ClockJob)
            .where(ClockJob.id == job_id)
            .values(
                runs=ClockJob.runs + 1,
                failures=ClockJob.failures + (0 if outcome.ok else 1),
                last_finished_at=now,
                last_ok=outcome.ok,
                last_error=None if outcome.ok else outcome.said[:ERROR_MAX],
                last_duration_ms=outcome.duration_ms,
            )
        )


def last_good_start(sessions: sessionmaker[Session], job_id: str) -> datetime | None:
    """When the job's last run started, if that run finished well; else None."""
    with sessions() as session:
        row = session.execute(
            select(ClockJob.last_started_at, ClockJob.last_finished_at, ClockJob.last_ok).where(ClockJob.id == job_id)
        ).first()
    if row is None or not row.last_ok or row.last_finished_at is None or row.last_started_at is None:
        return None
    # A run started after the last one finished is still going, or died: not a good run yet.
    return row.last_started_at if row.last_started_at <= row.last_finished_at else None


def _ensure(session: Session, job_id: str) -> None:
    """Creates the job's row if it has none (two clocks may try at once: one wins)."""
    insert_rows(session, ClockJob.__table__, [{"id": job_id, "runs": 0, "failures": 0}], conflict=("id",))
