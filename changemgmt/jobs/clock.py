"""The clock: APScheduler 3 wakes it up (a BlockingScheduler in `changemgmt clock`, a
BackgroundScheduler in `changemgmt serve`), with the memory job store: the jobs are a
fixed set registered at start by id (jobs.schedule), so a restart loses nothing.

Every clock process runs the same schedule; a job runs only in the one that leads
(jobs.leadership), which re-checks its leadership before each job and steps down when it
lost it. A standby polls for the leadership every second or so and, on taking it, runs
every job at once. Each run is recorded in `clock_jobs`; a job that raises is logged and
recorded, and the scheduler goes on."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from changemgmt.config import Settings
from changemgmt.jobs.heartbeat import Heartbeat
from changemgmt.jobs.leadership import Leadership, leadership_for
from changemgmt.jobs.runs import Outcome, last_good_start, record_finish, record_start
from changemgmt.jobs.schedule import JobContext, JobSpec, clock_jobs
from changemgmt.store.db import is_postgres, session_factory

log = logging.getLogger(__name__)

ELECTION_JOB = "leadership"
POLL_SECONDS = 1.0  # a standby's look at the leadership: the takeover comes within about this


class Election:
    """Whether this clock leads. Every change is logged and shown in the heartbeat."""

    def __init__(self, leadership: Leadership, heartbeat: Heartbeat, on_gained: Callable[[], None] = lambda: None):
        self.leadership, self.heartbeat, self.on_gained = leadership, heartbeat, on_gained
        self._leading = False
        self._mutex = threading.Lock()

    def poll(self) -> bool:
        """A leader checks it still leads; a standby tries to take the leadership."""
        with self._mutex:
            if self._leading:
                return self._recheck()
            if not self.leadership.try_lead():
                return False
            self._leading = True
            self.heartbeat.set_leader(True)
        log.info("clock %s: leadership gained", self.heartbeat.id)
        self.on_gained()
        return True

    def leading(self) -> bool:
        """True while this clock still leads, checked now (STANDARDS E19)."""
        with self._mutex:
            return self._leading and self._recheck()

    def resign(self) -> None:
        with self._mutex:
            was, self._leading = self._leading, False
            self.leadership.release()
            self.heartbeat.set_leader(False)
        if was:
            log.info("clock %s: leadership given up (stopping)", self.heartbeat.id)

    def _recheck(self) -> bool:
        if self.leadership.still_leading():
            return True
        self._leading = False
        self.heartbeat.set_leader(False)
        log.warning("clock %s: leadership lost (its database session ended); standing by", self.heartbeat.id)
        return False


class JobRunner:
    """Runs the clock's jobs by id, as of the injected clock's `now`, while this process
    leads. Records each run; a job that raises is logged and recorded, never raised."""

    def __init__(
        self,
        context: JobContext,
        jobs: Sequence[JobSpec],
        election: Election,
        heartbeat: Heartbeat,
        clock: Callable[[], datetime],
    ) -> None:
        self.context, self.election, self.heartbeat, self.clock = context, election, heartbeat, clock
        self.jobs = {job.id: job for job in jobs}

    def run(self, job_id: str) -> Outcome | None:
        """Runs the job now; None when it did not run (not leading, or a daily job not due)."""
        if not self.election.leading():
            return None
        job, now = self.jobs[job_id], self.clock()
        if job.due_every is not None and not self._due(job, now):
            return None
        self.heartbeat.doing(job_id)
        started = time.monotonic()
        try:
            record_start(self.context.sessions, job_id, self.heartbeat.id, now)
            outcome = Outcome(True, job.run(self.context, now), 0)
        except Exception as exc:  # noqa: BLE001 - a failing job is recorded and logged; the clock goes on
            outcome = Outcome(False, f"{type(exc).__name__}: {exc}", 0)
            log.error("clock job %s failed: %s", job_id, outcome.said, exc_info=True)
        finally:
            self.heartbeat.doing(None)
        outcome = Outcome(outcome.ok, outcome.said, round((time.monotonic() - started) * 1000))
        if outcome.ok:
            log.debug("clock job %s: %s (%d ms)", job_id, outcome.said, outcome.duration_ms)
        try:
            record_finish(self.context.sessions, job_id, self.clock(), outcome)
        except Exception as exc:  # noqa: BLE001 - the database is away; the next run records again
            log.error("clock job %s: its run could not be recorded: %s", job_id, exc)
        return outcome

    def _due(self, job: JobSpec, now: datetime) -> bool:
        assert job.due_every is not None
        last = last_good_start(self.context.sessions, job.id)
        return last is None or now - last >= job.due_every


def schedule(scheduler: BaseScheduler, runner: JobRunner, election: Election, poll_seconds: float) -> None:
    """Registers the fixed jobs on `scheduler` (by id, replacing any already there), each
    first due at once, and the election, which runs in every clock, leading or not."""
    soon = datetime.now(UTC)
    for job in runner.jobs.values():
        scheduler.add_job(
            runner.run,
            IntervalTrigger(seconds=job.every, timezone=UTC),
            args=(job.id,),
            id=job.id,
            name=job.description or job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=job.grace,
            next_run_time=soon,
        )
    scheduler.add_job(
        election.poll,
        IntervalTrigger(seconds=poll_seconds, timezone=UTC),
        id=ELECTION_JOB,
        name="take or keep the leadership",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=30,
    )
    # "Running job ..." twice per job per wake-up is noise; failures still show (ours, and its).
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)


def run_all_now(scheduler: BaseScheduler, job_ids: Sequence[str]) -> None:
    """Wakes every job at once (a new leader does not wait for their next turn)."""
    soon = datetime.now(UTC)
    for job_id in job_ids:
        if scheduler.get_job(job_id) is not None:
            scheduler.modify_job(job_id, next_run_time=soon)


class Clock:
    """A clock on a new scheduler of `scheduler_class`: its heartbeat (given, in `serve`;
    else its own), the leadership that fits the database, the election and the jobs.
    On SQLite (one writer) the jobs run one at a time; on PostgreSQL a long one (the daily
    feed retention) does not hold up the tick."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], datetime],
        scheduler_class: type[BaseScheduler],
        heartbeat: Heartbeat | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        threads = 4 if is_postgres(engine) else 1
        self.scheduler = scheduler_class(timezone=UTC, executors={"default": ThreadPoolExecutor(threads)})
        self.own_heartbeat = heartbeat is None
        self.heartbeat = heartbeat or Heartbeat(engine, "clock", clock, settings.heartbeat_seconds)
        jobs = clock_jobs(settings)
        self.election = Election(
            leadership_for(engine), self.heartbeat, on_gained=lambda: run_all_now(self.scheduler, [j.id for j in jobs])
        )
        context = JobContext(engine, session_factory(engine), settings)
        self.runner = JobRunner(context, jobs, self.election, self.heartbeat, clock)
        schedule(self.scheduler, self.runner, self.election, poll_seconds)

    def begin(self) -> bool:
        """Takes the leadership if it is free (on SQLite: or raises ClockAlreadyRunning)
        and starts beating; True when this clock leads."""
        leading = self.election.poll()
        if self.own_heartbeat:
            self.heartbeat.start()
        log.info("clock %s: started, %s", self.heartbeat.id, "leading" if leading else "standing by")
        return leading

    def run(self) -> None:
        """Starts the scheduler: a BlockingScheduler returns only once stopped."""
        self.scheduler.start()

    def stop_waking(self) -> None:
        """Stops waking jobs and lets the running ones finish (a BlockingScheduler's
        `start` then returns)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def stop(self) -> None:
        """Stops waking jobs, lets the running ones finish, and gives up the leadership."""
        self.stop_waking()
        self.election.resign()
        if self.own_heartbeat:
            self.heartbeat.stop()
        log.info("clock %s: stopped", self.heartbeat.id)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)
