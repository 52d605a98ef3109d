"""Replaying a scripted history (the demo's) as if it had happened: each step is taken at
its own moment through the same service calls as the CLI, and the worker's round (plan
what fell due, send, rewrite feeds) runs right after each step and at every reminder
moment in between, with its clock set there. Notices, emails (their Date), events and
feeds carry the times they would have had, in the order they would have had them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.delivery.transports.base import Transport
from changemgmt.delivery.worker import Worker
from changemgmt.demo.sample import Step
from changemgmt.domain.planner import REMINDER_STATUSES
from changemgmt.domain.status import Status
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who, change_status, create_gcr, update_gcr
from changemgmt.jobs.worker_loop import work_round
from changemgmt.store.db import transaction
from changemgmt.store.models import Gcr, Window


@dataclass
class ReplayClock:
    """The time the replay has reached; the worker reads it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Replayed:
    steps: int = 0
    rounds: int = 0
    deliveries: int = 0
    statuses: dict[str, str] = field(default_factory=dict)  # GCR number -> its status at the end


def replay(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    transport: Transport,
    steps: Iterable[Step],
    actor: str,
    until: datetime,
) -> Replayed:
    """Takes `steps` (in time order, all before `until`) and runs the worker's rounds,
    the last at `until`. Every step commits on its own, as a change manager's would."""
    clock = ReplayClock(until)
    worker = Worker(engine, transport, settings, clock, name="replay")
    done = Replayed()
    try:
        last: datetime | None = None
        for moment, group in groupby(steps, key=lambda step: step.at):
            last = _catch_up(sessions, worker, settings, clock, last, moment, done)
            for step in group:
                done.statuses[step.number] = _take(sessions, settings, step, actor)
                done.steps += 1
            _round(sessions, worker, settings, clock, moment, done)
            last = moment
        _catch_up(sessions, worker, settings, clock, last, until, done)
        _round(sessions, worker, settings, clock, until, done)
    finally:
        worker.close()
    return done


def _take(sessions: sessionmaker[Session], settings: Settings, step: Step, actor: str) -> str:
    """Takes one step at its moment; returns the GCR's status after it."""
    who = Who(actor, step.at, settings)
    with transaction(sessions) as session:
        if step.action == "create":
            change = create_gcr(session, parse_patch(step.document), who)
        elif step.action == "update":
            change = update_gcr(session, step.number, parse_patch(step.document), who)
        else:
            change = change_status(session, step.number, Status(step.status), who)
        return change.after.status.value


def _round(sessions, worker: Worker, settings: Settings, clock: ReplayClock, moment: datetime, done: Replayed) -> None:
    clock.now = moment
    done.deliveries += work_round(sessions, worker, settings, moment)
    done.rounds += 1


def _catch_up(
    sessions,
    worker: Worker,
    settings: Settings,
    clock: ReplayClock,
    after: datetime | None,
    before: datetime,
    done: Replayed,
) -> datetime | None:
    """Runs a round at each reminder moment after `after` and before `before`."""
    for moment in _reminder_moments(sessions, settings, after, before):
        _round(sessions, worker, settings, clock, moment, done)
        after = moment
    return after


def _reminder_moments(
    sessions: sessionmaker[Session], settings: Settings, after: datetime | None, before: datetime
) -> Iterator[datetime]:
    """The moments reminders fall due, after `after` and before `before`, for the windows
    of the GCRs that get reminders, as they stand now (no step comes in between)."""
    statuses = [s.value for s in REMINDER_STATUSES]
    with sessions() as session:
        starts = session.scalars(
            select(Window.starts_at)
            .join(Gcr, Gcr.id == Window.gcr_id)
            .where(Gcr.status.in_(statuses), Window.dropped_at.is_(None))
        ).all()
    moments = {start - offset for start in starts for offset in settings.reminder_offsets}
    yield from sorted(m for m in moments if (after is None or m > after) and m < before)
