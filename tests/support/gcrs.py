"""Driving GCRs and the worker in tests: a clock that only moves when told, and helpers
that make a change in its own transaction, as the CLI and API do."""

from __future__ import annotations

from datetime import datetime, timedelta

from changemgmt.domain.status import Status
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who, change_status, create_gcr, update_gcr
from changemgmt.store.db import transaction


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Desk:
    """A change manager at work: every call is one committed change at the clock's time."""

    def __init__(self, db, settings, clock: Clock, actor: str = "alice") -> None:
        self.db, self.settings, self.clock, self.actor = db, settings, clock, actor

    def _who(self) -> Who:
        return Who(self.actor, self.clock(), self.settings)

    def create(self, document: dict):
        with transaction(self.db) as session:
            return create_gcr(session, parse_patch(document), self._who())

    def update(self, number: str, document: dict, override_reason: str | None = None):
        with transaction(self.db) as session:
            return update_gcr(session, number, parse_patch(document), self._who(), override_reason)

    def status(self, number: str, status: Status, override_reason: str | None = None):
        with transaction(self.db) as session:
            return change_status(session, number, status, self._who(), override_reason)

    def publish(self, document: dict, status: Status = Status.CONFIRMED):
        self.create(document)
        return self.status(document["number"], status)
