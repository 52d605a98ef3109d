"""Pruning what only history needs: delivery attempts and provider (webhook) events older
than their retention, the rows of processes long gone, and the API's kept answers to
requests made with an Idempotency-Key once a client can no longer be retrying them. A delivery's latest attempt
is never pruned (it says how the delivery ended), nor an attempt still open.

Rows go a batch at a time, each batch its own short transaction, so pruning a large
backlog never holds locks for long."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, text

from changemgmt.store.models import UtcDateTime

BATCH = 5_000
PROCESS_RETENTION = timedelta(days=7)  # a stopped or silent process's row, then
IDEMPOTENCY_RETENTION = timedelta(days=1)  # a client retries within minutes; a day is generous

_OLD_ATTEMPTS = """
    SELECT a.id FROM delivery_attempts a
    WHERE a.started_at < :cutoff AND a.outcome IS NOT NULL
      AND EXISTS (SELECT 1 FROM delivery_attempts later
                  WHERE later.delivery_id = a.delivery_id AND later.id > a.id)
    LIMIT :batch
"""
_OLD_EVENTS = "SELECT id FROM delivery_events WHERE received_at < :cutoff LIMIT :batch"
_OLD_PROCESSES = "SELECT id FROM processes WHERE beat_at < :cutoff LIMIT :batch"
_OLD_IDEMPOTENT = "SELECT id FROM idempotent_requests WHERE created_at < :cutoff LIMIT :batch"


@dataclass(frozen=True)
class Pruned:
    attempts: int
    events: int
    processes: int
    idempotent: int = 0

    def __str__(self) -> str:
        return (
            f"pruned {self.attempts} attempt(s), {self.events} event(s), {self.processes} process row(s), "
            f"{self.idempotent} idempotent answer(s)"
        )


def prune(engine: Engine, now: datetime, attempt_days: int, event_days: int) -> Pruned:
    """Deletes attempts started more than `attempt_days` before `now` (but each delivery's
    latest, and open ones), events received more than `event_days` before it, and the
    rows of processes silent for a week, and idempotent answers kept over a day."""
    return Pruned(
        attempts=_delete(engine, "delivery_attempts", _OLD_ATTEMPTS, now - timedelta(days=attempt_days)),
        events=_delete(engine, "delivery_events", _OLD_EVENTS, now - timedelta(days=event_days)),
        processes=_delete(engine, "processes", _OLD_PROCESSES, now - PROCESS_RETENTION),
        idempotent=_delete(engine, "idempotent_requests", _OLD_IDEMPOTENT, now - IDEMPOTENCY_RETENTION),
    )


def _delete(engine: Engine, table: str, chosen: str, cutoff: datetime) -> int:
    statement = text(f"DELETE FROM {table} WHERE id IN ({chosen})").bindparams(bindparam("cutoff", type_=UtcDateTime()))
    total = 0
    while True:
        with engine.begin() as connection:
            deleted = connection.execute(statement, {"cutoff": cutoff, "batch": BATCH}).rowcount
        total += deleted
        if deleted < BATCH:
            return total
