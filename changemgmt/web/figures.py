"""The figures /metrics shows, read from the database at scrape time: the web process
neither plans nor sends (the clock and the workers do, elsewhere), but every one of
them records what it did in the tables read here.

Each read is a count or a sum by group (a few rows back, never one per notice or
delivery): notices by kind and state, deliveries by state, the due deliveries and the
oldest of them (index on state, next attempt), the feed rebuild requests, the clock's
jobs and the live processes (a handful of rows each), and the durations of the
delivery attempts finished in the last WINDOW, bucketed in SQL over at most the
ATTEMPTS_SCANNED newest attempts (a range of the primary key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, func, select, text

from changemgmt.domain.states import AttemptOutcome, DeliveryState
from changemgmt.store.db import is_postgres
from changemgmt.store.models import ClockJob, Delivery, FeedRebuild, Notice, Process, UtcDateTime

# Upper bounds (seconds) of the attempt-duration buckets: a send takes well under a second
# to SendGrid, a batch of 250 a few seconds, a timeout 30 s.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
WINDOW = timedelta(minutes=10)
ATTEMPTS_SCANNED = 100_000
# Processes that stopped, or whose last beat is older than this, are no longer shown.
FORGET_PROCESSES_AFTER = timedelta(hours=1)
PROCESSES_SHOWN = 500
TIMED = (
    AttemptOutcome.SENT,
    AttemptOutcome.RETRY,
    AttemptOutcome.UNKNOWN,
    AttemptOutcome.FAILED,
)  # attempts that called the provider


@dataclass(frozen=True)
class Durations:
    """Attempts of one outcome: how many, their total seconds, and how many took at most
    each of BUCKETS (cumulative, as Prometheus buckets are)."""

    count: int
    total: float
    within: tuple[int, ...]


@dataclass
class Figures:
    now: datetime
    notices: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, state) -> how many
    deliveries: dict[str, int] = field(default_factory=dict)  # state -> how many
    due: int = 0
    oldest_due: datetime | None = None
    rebuild_requests: int = 0
    oldest_rebuild_request: datetime | None = None
    clock_jobs: list = field(default_factory=list)  # rows of clock_jobs
    processes: list = field(default_factory=list)  # rows of processes: id, kind, beat_at, leader
    durations: dict[str, Durations] = field(default_factory=dict)  # attempt outcome -> durations


def read_figures(engine: Engine, now: datetime) -> Figures:
    figures = Figures(now)
    with engine.connect() as connection:
        _queue(connection, figures)
        _clock_and_processes(connection, figures)
        figures.durations = _durations(connection, now - WINDOW)
    return figures


def _queue(connection: Connection, figures: Figures) -> None:
    notices, deliveries = Notice.__table__.c, Delivery.__table__.c
    by_kind = (notices.kind, notices.state)
    counted = connection.execute(select(*by_kind, func.count()).group_by(*by_kind))
    figures.notices = {(kind, state): count for kind, state, count in counted}
    counted = connection.execute(select(deliveries.state, func.count()).group_by(deliveries.state))
    figures.deliveries = {state: count for state, count in counted}
    due = (deliveries.state == DeliveryState.PENDING.value) & (deliveries.next_attempt_at <= figures.now)
    figures.due, figures.oldest_due = connection.execute(
        select(func.count(), func.min(deliveries.next_attempt_at)).where(due)
    ).one()
    rebuilds = FeedRebuild.__table__.c
    figures.rebuild_requests, figures.oldest_rebuild_request = connection.execute(
        select(func.count(), func.min(rebuilds.requested_at))
    ).one()


def _clock_and_processes(connection: Connection, figures: Figures) -> None:
    jobs = ClockJob.__table__
    figures.clock_jobs = list(connection.execute(select(jobs).order_by(jobs.c.id)))
    processes = Process.__table__.c
    figures.processes = list(
        connection.execute(
            select(processes.id, processes.kind, processes.beat_at, processes.leader)
            .where(processes.stopped_at.is_(None), processes.beat_at >= figures.now - FORGET_PROCESSES_AFTER)
            .order_by(processes.kind, processes.id)
            .limit(PROCESSES_SHOWN)
        )
    )


def _durations(connection: Connection, since: datetime) -> dict[str, Durations]:
    """The attempts that called the provider and finished since `since`, by outcome:
    finished_at - started_at (from the claim to the recorded outcome)."""
    if is_postgres(connection):
        seconds = "EXTRACT(EPOCH FROM (finished_at - started_at))"
    else:
        seconds = "(julianday(finished_at) - julianday(started_at)) * 86400.0"
    buckets = ", ".join(f"SUM(CASE WHEN seconds <= {bound!r} THEN 1 ELSE 0 END)" for bound in BUCKETS)
    outcomes = ", ".join(f"'{outcome.value}'" for outcome in TIMED)
    query = text(f"""
        SELECT outcome, COUNT(*), COALESCE(SUM(seconds), 0), {buckets}
        FROM (SELECT outcome, {seconds} AS seconds FROM delivery_attempts
              WHERE id > (SELECT COALESCE(MAX(id), 0) FROM delivery_attempts) - :scanned
                AND finished_at >= :since AND outcome IN ({outcomes})) AS recent
        GROUP BY outcome
    """).bindparams(bindparam("since", type_=UtcDateTime()))
    found = {}
    for outcome, count, total, *within in connection.execute(query, {"since": since, "scanned": ATTEMPTS_SCANNED}):
        found[outcome] = Durations(int(count), float(total), tuple(int(n or 0) for n in within))
    return found
