"""Claiming due deliveries: the database is the queue (STANDARDS E7-E11).

PostgreSQL: `FOR UPDATE SKIP LOCKED` in a MATERIALIZED CTE, so any number of workers on
any number of machines share the work. SQLite: one writer at a time, by BEGIN IMMEDIATE.
Due deliveries go by priority (NoticeKind.priority: a reminder before the `new` notices
of a big publication), then by due time. A delivery waits while an earlier one of the
same GCR and customer is unsettled, so `cancelled` never overtakes `rescheduled` (E6).

A claimed delivery is its worker's while that worker's heartbeat (its `processes` row,
named in `claimed_by`) lives, however long a send takes. `rescue_expired`, which the
clock runs as a job of its own, gives back the deliveries of a worker that stopped
beating or stopped for good (E10); a claimer with no heartbeat row at all (a worker run
by a test or a replay) holds its claims until `claimed_until`. A claim never needs the
rescue to be right: a row whose claimer died stays `sending` (neither claimable nor
settled) until rescued. A worker that stops puts back what it claimed and never sent
(`put_back`), and what it could not finish (`abandon`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, delete, insert, text, update

from changemgmt.domain.states import (
    ATTEMPT_ABANDONED,
    DELIVERY_CLAIMED,
    DELIVERY_LEASE_EXPIRED,
    DELIVERY_PUT_BACK,
    DeliveryState,
    Transition,
    is_final,
)
from changemgmt.store.bulk import among
from changemgmt.store.db import is_postgres
from changemgmt.store.models import Delivery, DeliveryAttempt, UtcDateTime

DELIVERIES, ATTEMPTS = Delivery.__table__, DeliveryAttempt.__table__


def _literal(state: str | None) -> str:
    """A state as an SQL string literal (the states are ours: no quote to escape)."""
    assert state is not None and "'" not in state
    return f"'{state}'"


_CLAIMABLE, _CLAIMED = _literal(DELIVERY_CLAIMED.source), _literal(DELIVERY_CLAIMED.target)
_EXPIRED, _RELEASED = _literal(DELIVERY_LEASE_EXPIRED.source), _literal(DELIVERY_LEASE_EXPIRED.target)
_UNSETTLED = "(" + ", ".join(_literal(s) for s in DeliveryState if not is_final(s)) + ")"  # pending, sending

_DUE = f"""
    SELECT d.id FROM deliveries d JOIN notices n ON n.id = d.notice_id
    WHERE d.state = {_CLAIMABLE} AND d.next_attempt_at <= :now
      AND NOT EXISTS (
        SELECT 1 FROM deliveries d2 JOIN notices n2 ON n2.id = d2.notice_id
        WHERE n2.gcr_id = n.gcr_id AND n2.customer_id = n.customer_id AND d2.id < d.id
          AND d2.state IN {_UNSETTLED})
    ORDER BY d.priority, d.next_attempt_at, d.id
    LIMIT :limit
"""

# The same rows as _DUE, in the same order, without its cost growing with the backlog:
# _DUE anti-joins every due delivery before sorting them. Here the due deliveries are
# sorted (a cheap sort of small rows) and locked as they are read, and the "no earlier
# unsettled delivery" test, a few index probes, runs only on those read before the
# limit is reached. A nested loop keeps the sorted order, hence _NESTED_LOOPS.
_DUE_POSTGRES = f"""
    SELECT c.id FROM (
        SELECT d.id, d.notice_id FROM deliveries d
        WHERE d.state = {_CLAIMABLE} AND d.next_attempt_at <= :now
        ORDER BY d.priority, d.next_attempt_at, d.id
        FOR UPDATE OF d SKIP LOCKED) c
    WHERE NOT EXISTS (
        SELECT 1 FROM notices n JOIN notices n2 ON n2.gcr_id = n.gcr_id AND n2.customer_id = n.customer_id
        JOIN deliveries d2 ON d2.notice_id = n2.id
        WHERE n.id = c.notice_id AND d2.id < c.id AND d2.state IN {_UNSETTLED})
    LIMIT :limit
"""

_NESTED_LOOPS = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"

_CLAIM_POSTGRES = f"""
    WITH due AS MATERIALIZED ({_DUE_POSTGRES})
    UPDATE deliveries SET state = {_CLAIMED}, claimed_until = :until, claimed_by = :worker,
                          attempts = deliveries.attempts + 1
    FROM due WHERE deliveries.id = due.id
    RETURNING deliveries.id, deliveries.notice_id, deliveries.attempts,
              deliveries.attempts - deliveries.attempts_before_retry
"""

_CLAIM_SQLITE = f"""
    UPDATE deliveries SET state = {_CLAIMED}, claimed_until = :until, claimed_by = :worker,
                          attempts = attempts + 1
    WHERE id IN ({_DUE})
    RETURNING id, notice_id, attempts, attempts - attempts_before_retry
"""

# Whose claims are no longer theirs: a worker silent since :silent_since or stopped, or,
# for a claimer with no heartbeat row, a lease run out. With :silent_since NULL (the clock
# has not had the database long enough to judge), only the second.
_ORPHANED = f"""
    deliveries.state = {_EXPIRED} AND (
      EXISTS (SELECT 1 FROM processes p WHERE p.id = deliveries.claimed_by
              AND (p.stopped_at IS NOT NULL OR p.beat_at < :silent_since))
      OR (NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = deliveries.claimed_by)
          AND deliveries.claimed_until < :now))
"""

_RESCUE = f"""
    UPDATE deliveries SET state = {_RELEASED}, claimed_until = NULL, claimed_by = NULL
    WHERE {_ORPHANED}
"""

_ABANDON_ATTEMPTS = f"""
    UPDATE delivery_attempts SET outcome = {_literal(ATTEMPT_ABANDONED.target)}, finished_at = :now,
                                 error = 'the worker stopped before it finished this attempt'
    WHERE outcome IS NULL AND delivery_id IN (SELECT id FROM deliveries WHERE {_ORPHANED})
"""


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    notice_id: int
    attempt: int  # the attempt's number
    tries: int | None = None  # attempts since an operator's last retry (None: `attempt`)

    @property
    def attempts_counted(self) -> int:
        """The attempts the give-up budget counts: those since an operator's last retry."""
        return self.attempt if self.tries is None else self.tries


def _sql(statement: str):
    """The statement with its times bound as our UTC type, so SQLite compares like with like."""
    names = [name for name in ("now", "until", "silent_since") if f":{name}" in statement]
    return text(statement).bindparams(*(bindparam(name, type_=UtcDateTime()) for name in names))


def claim_due(engine: Engine, *, now: datetime, limit: int, lease: timedelta, worker: str) -> list[Claim]:
    """Claims up to `limit` due deliveries, recording an attempt for each, in one transaction."""
    params = {"now": now, "until": now + lease, "limit": limit, "worker": worker}
    claim = _CLAIM_POSTGRES if is_postgres(engine) else _CLAIM_SQLITE
    with engine.execution_options(sqlite_begin="BEGIN IMMEDIATE").begin() as connection:
        if is_postgres(engine):
            connection.exec_driver_sql(_NESTED_LOOPS)
        claims = [Claim(*row) for row in connection.execute(_sql(claim), params)]
        if claims:
            connection.execute(
                insert(DeliveryAttempt),
                [{"delivery_id": c.delivery_id, "number": c.attempt, "started_at": now} for c in claims],
            )
    return sorted(claims, key=lambda c: c.delivery_id)


_NEXT_DUE = f"SELECT min(next_attempt_at) AS due FROM deliveries WHERE state = {_CLAIMABLE} AND next_attempt_at > :now"


def next_due_at(engine: Engine, now: datetime) -> datetime | None:
    """When the next delivery not yet due falls due (None: none waits), so that an idle
    worker wakes for a reminder at its moment rather than at the end of its pause. (One
    due now but held back behind an unsettled one is not counted: waiting for it would
    spin.)"""
    with engine.connect() as connection:
        return connection.execute(_sql(_NEXT_DUE).columns(due=UtcDateTime()), {"now": now}).scalar()


def rescue_expired(engine: Engine, *, now: datetime, silent_since: datetime | None = None) -> int:
    """Gives back the deliveries whose worker stopped, or has not beaten since
    `silent_since` (None: judge no heartbeat), or, with no heartbeat row, whose lease ran
    out before `now`: they are due again, and their open attempts are recorded as
    abandoned. Returns how many deliveries were given back."""
    params = {"now": now, "silent_since": silent_since}
    with engine.execution_options(sqlite_begin="BEGIN IMMEDIATE").begin() as connection:
        connection.execute(_sql(_ABANDON_ATTEMPTS), params)
        return connection.execute(_sql(_RESCUE), params).rowcount


def put_back(connection: Connection, delivery_ids: Sequence[int], worker: str) -> int:
    """Puts back deliveries `worker` claimed and never sent: due again at once, as if never
    claimed (the attempt the claim opened is deleted and not counted: nothing was tried).
    Rows no longer the worker's are left alone. Returns how many were put back."""
    back = _release(connection, delivery_ids, worker, DELIVERY_PUT_BACK, attempts=DELIVERIES.c.attempts - 1)
    if back:
        connection.execute(delete(ATTEMPTS).where(among(ATTEMPTS.c.delivery_id, back), ATTEMPTS.c.outcome.is_(None)))
    return len(back)


def abandon(connection: Connection, delivery_ids: Sequence[int], worker: str, now: datetime, reason: str) -> int:
    """Gives back deliveries `worker` was sending when it had to stop, their outcome
    unknown: the attempt is recorded as abandoned with `reason`, the delivery due again.
    Returns how many were given back."""
    back = _release(connection, delivery_ids, worker, DELIVERY_LEASE_EXPIRED)
    if back:
        connection.execute(
            update(ATTEMPTS)
            .where(among(ATTEMPTS.c.delivery_id, back), ATTEMPTS.c.outcome.is_(None))
            .values(outcome=ATTEMPT_ABANDONED.target, finished_at=now, error=reason)
        )
    return len(back)


def _release(
    connection: Connection, delivery_ids: Sequence[int], worker: str, transition: Transition[DeliveryState], **values
) -> list[int]:
    """Moves the deliveries still claimed by `worker` along `transition`, unclaimed, with
    `values` besides; returns the ids it moved."""
    if not delivery_ids:
        return []
    released = connection.execute(
        update(DELIVERIES)
        .where(
            among(DELIVERIES.c.id, list(delivery_ids)),
            DELIVERIES.c.state == transition.source,
            DELIVERIES.c.claimed_by == worker,
        )
        .values(state=transition.target, claimed_until=None, claimed_by=None, **values)
        .returning(DELIVERIES.c.id)
    )
    return [row.id for row in released]
