"""The clock's jobs: a fixed set, each known by its id, each idempotent and a function of
`now` (STYLE 3, 9). Every due date lives in our own tables, so a job that runs late, twice
(two clocks during a takeover) or after a restart does the right thing; APScheduler only
wakes the clock up.

A daily job (`due_every`) is woken often and runs only when its last good run started a
day or more ago, as recorded in `clock_jobs`: a restart or a new leader neither skips it
nor runs it twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.feeds.publisher import Written, rebuild_all, rebuild_dirty
from changemgmt.jobs.leases import Leases
from changemgmt.jobs.prune import prune
from changemgmt.jobs.tick import TickResult, flag_overdue_gcrs, tick

DAY = timedelta(days=1)


@dataclass(frozen=True)
class JobContext:
    """What the jobs work with."""

    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    leases: Leases = field(default_factory=Leases)  # what the `leases` job remembers between runs


@dataclass(frozen=True)
class JobSpec:
    id: str
    run: Callable[[JobContext, datetime], str]  # does the job as of `now`; says what it did
    every: float  # seconds between wake-ups
    grace: int  # seconds a wake-up may come late and still run (APScheduler's misfire_grace_time)
    due_every: timedelta | None = None  # runs only if its last good run started this long ago
    description: str = ""


def _tick(context: JobContext, now: datetime) -> str:
    return _said(tick(context.sessions, context.settings, now))


def _feeds(context: JobContext, now: datetime) -> str:
    return _written(rebuild_dirty(context.sessions, context.settings, now))


def _retention(context: JobContext, now: datetime) -> str:
    return _written(rebuild_all(context.sessions, context.settings, now))


def _leases(context: JobContext, now: datetime) -> str:
    timeout = timedelta(seconds=context.settings.heartbeat_timeout_seconds)
    return f"{context.leases.rescue(context.engine, now, timeout)} delivery(ies) given back"


def _prune(context: JobContext, now: datetime) -> str:
    settings = context.settings
    return str(prune(context.engine, now, settings.attempt_retention_days, settings.event_retention_days))


def _overdue(context: JobContext, now: datetime) -> str:
    return _said(flag_overdue_gcrs(context.sessions, context.settings, now))


def _said(result: TickResult) -> str:
    planned = ", ".join(f"{kind} {count}" for kind, count in sorted(result.planned.planned.items()))
    parts = [*result.advanced, f"planned: {planned or 'nothing'}"]
    if result.busy:
        parts.append(f"left for the next round (being changed): {', '.join(result.busy)}")
    return "; ".join(parts)


def _written(written: Written) -> str:
    return f"{written.total} feed(s) written, {written.unchanged} unchanged, {written.removed} removed"


def clock_jobs(settings: Settings) -> tuple[JobSpec, ...]:
    """The fixed set of jobs. Graces: a frequent job that wakes up late still runs (it
    does whatever fell due meanwhile), within a minute; a daily one within its hour."""
    return (
        JobSpec(
            "tick",
            _tick,
            settings.tick_seconds,
            60,
            None,
            "reminders, automatic start and completion, late first notices",
        ),
        JobSpec("feeds", _feeds, settings.feeds_seconds, 60, None, "rewrite the feeds GCR changes marked"),
        JobSpec(
            "leases",
            _leases,
            settings.heartbeat_seconds,
            60,
            None,
            "give back the deliveries of workers whose heartbeat stopped",
        ),
        JobSpec("overdue", _overdue, 60, 300, None, "flag GCRs in progress past their last window"),
        JobSpec("retention", _retention, 600, 3600, DAY, "rewrite every feed: old events age out"),
        JobSpec("prune", _prune, 600, 3600, DAY, "prune old delivery attempts and provider events"),
    )
