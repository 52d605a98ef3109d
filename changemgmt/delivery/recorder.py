"""Recording as we go: each send's outcome is written as soon as it is known, not when its
batch ends, so a worker killed mid-batch re-sends at most the sends whose outcome was not
yet written (the worker keeps those below its send concurrency).

One thread writes. It takes whatever has come in since its last write and writes it all
in one transaction (outcomes through delivery.outcomes, and the claims a stopping worker
gives back), so the cost per delivery falls as the rate rises. When the database cannot
be reached, it keeps what it has, logs once, and tries again with backoff, for as long as
the process lives: nothing known is lost to a database restart."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, create_engine

from changemgmt.delivery.claim import abandon, put_back
from changemgmt.delivery.outcomes import Outcome, record_outcomes
from changemgmt.store.db import is_postgres, session_factory, transaction

log = logging.getLogger(__name__)

GROUP_MAX = 1000  # outcomes per transaction at most
# A write waits this long at most for `group_target` outcomes to join it: one transaction
# per outcome or two cost the worker a fifth of its throughput (bench/fanout.py). Longer
# holds the send permits of the outcomes waiting: 20 ms left the renderer waiting for a
# permit more than half its time, and delivered a sixth fewer notices a second than 5 ms.
LINGER = 0.005
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0  # seconds between tries while the database is away


@dataclass
class _Pending:
    outcomes: list[Outcome] = field(default_factory=list)
    done: list[Callable[[], None]] = field(default_factory=list)  # called once written
    put_back: list[int] = field(default_factory=list)
    abandoned: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.outcomes) + len(self.put_back) + len(self.abandoned)


class Recorder:
    """`add()` an outcome, `give_back()` claims; `flush()` waits until all is written."""

    def __init__(
        self,
        engine: Engine,
        worker: str,
        clock: Callable[[], datetime],
        give_up_after: timedelta,
        rng: random.Random,
        group_target: int = 1,
    ) -> None:
        self.engine, self.worker, self.clock = _recording_engine(engine), worker, clock
        self._own_engine = self.engine is not engine  # disposed at close; the caller's is not
        self.group_target = group_target
        self.give_up_after, self.rng = give_up_after, rng
        self.sessions = session_factory(self.engine)
        self._pending = _Pending()
        self.written = 0  # items ever written: a claim made before the last write may have missed what it freed
        self._writing = 0  # items taken by the writer and not yet written
        self._changed = threading.Condition()
        self._closing = False
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def add(self, outcome: Outcome, done: Callable[[], None] | None = None) -> None:
        with self._changed:
            self._pending.outcomes.append(outcome)
            if done is not None:
                self._pending.done.append(done)
            self._changed.notify_all()

    def add_all(self, outcomes: Sequence[Outcome]) -> None:
        """Adds outcomes together, in this order (written in one transaction)."""
        if outcomes:
            with self._changed:
                self._pending.outcomes += outcomes
                self._changed.notify_all()

    def give_back(self, unsent: Sequence[int], abandoned: Sequence[int] = (), reason: str = "") -> None:
        """Claims to hand back: `unsent` never went out (put back as never claimed),
        `abandoned` were in flight when the worker had to stop (outcome unknown)."""
        with self._changed:
            self._pending.put_back += unsent
            self._pending.abandoned += [(d, reason) for d in abandoned]
            self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until everything added so far is written; False if `timeout` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while len(self._pending) or self._writing:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
            return True

    @property
    def idle(self) -> bool:
        with self._changed:
            return not len(self._pending) and not self._writing

    def close(self, timeout: float = 5.0) -> None:
        """Writes what is left (for up to `timeout` seconds), then stops the thread."""
        if not self.flush(timeout):
            log.error(
                "worker %s: stopping with outcomes not recorded (the database is away); "
                "the clock gives their deliveries back once this worker's heartbeat is silent",
                self.worker,
                extra={"event": "outcomes_lost_at_stop", "process_id": self.worker},
            )
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join(timeout=1.0)
        if self._own_engine and not self._thread.is_alive():
            self.engine.dispose()

    def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            with self._changed:
                while not len(self._pending) and not self._closing:
                    self._changed.wait()
                if not len(self._pending):
                    return
                self._linger()
                group, self._pending = self._take()
                self._writing = len(group)
            while not self._write(group):
                if self._closing:
                    return
                time.sleep(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
                with self._changed:  # what came in meanwhile goes in the same transaction
                    more, self._pending = self._pending, _Pending()
                group = _merged(group, more)
                with self._changed:
                    self._writing = len(group)
            backoff = BACKOFF_FIRST
            for done in group.done:
                done()
            with self._changed:
                self.written += len(group)
                self._writing = 0
                self._changed.notify_all()

    def _linger(self) -> None:
        """Waits (holding the condition) up to LINGER for `group_target` outcomes, so that
        sends finishing close together are recorded in one transaction."""
        deadline = time.monotonic() + LINGER
        while len(self._pending.outcomes) < self.group_target and not self._closing:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._changed.wait(left)

    def _take(self) -> tuple[_Pending, _Pending]:
        """The next group (at most GROUP_MAX outcomes) and what stays for later."""
        pending = self._pending
        if len(pending.outcomes) <= GROUP_MAX:
            return pending, _Pending()
        # `done` callbacks are not tied to outcomes one to one: they all wait for the rest.
        group = _Pending(pending.outcomes[:GROUP_MAX], [], pending.put_back, pending.abandoned)
        return group, _Pending(pending.outcomes[GROUP_MAX:], pending.done)

    def _write(self, group: _Pending) -> bool:
        """Writes the group in one transaction; False (logged) when the database failed."""
        try:
            with transaction(self.sessions) as session:
                now = self.clock()
                if group.outcomes:
                    record_outcomes(session, group.outcomes, now, self.give_up_after, self.rng)
                connection = session.connection()
                if group.put_back:
                    put_back(connection, group.put_back, self.worker)
                for reason in {r for _, r in group.abandoned}:
                    ids = [d for d, r in group.abandoned if r == reason]
                    abandon(connection, ids, self.worker, now, reason)
        except Exception as exc:  # noqa: BLE001 - the database is away: keep the outcomes, try again
            level = logging.DEBUG if self._failing else logging.WARNING
            log.log(
                level,
                "worker %s: recording %s outcome(s) failed, keeping them and retrying: %s",
                self.worker,
                len(group),
                _first_line(exc),
                extra={"event": "outcomes_unrecorded", "process_id": self.worker, "error": _first_line(exc)},
            )
            self._failing = True
            return False
        if self._failing:
            log.info(
                "worker %s: recording resumed (%s outcome(s) written)",
                self.worker,
                len(group),
                extra={"event": "outcomes_recorded_again", "process_id": self.worker},
            )
            self._failing = False
        return True


def _recording_engine(engine: Engine) -> Engine:
    """The recorder's own connection. On PostgreSQL, with settings of its own from the
    start, where setting them in each transaction cost a round trip per write:
    - synchronous_commit off: many small commits, one per few sends, are cheap when none
      waits to reach the disk. A server crash (not a restart, not a killed worker) may
      then lose the last fraction of a second of outcomes: those deliveries are sent
      again, never lost;
    - enable_seqscan off: each statement looks up a handful of rows by key. Statistics
      taken mid fan-out can make a state filter look selective enough to scan the whole
      table instead, on every write (bench/fanout.py).
    No ping before each write either: a write on a connection the server dropped fails,
    is kept and tried again on a new one, as when the database is away."""
    if not is_postgres(engine):
        return engine
    given = engine.url.query.get("options", "")  # kept: a search_path, say
    own = "-c synchronous_commit=off -c enable_seqscan=off"
    options = " ".join([*((given,) if isinstance(given, str) else given), own]).strip()
    return create_engine(engine.url.update_query_dict({"options": options}), pool_size=1)


def _merged(first: _Pending, then: _Pending) -> _Pending:
    return _Pending(
        first.outcomes + then.outcomes,
        first.done + then.done,
        first.put_back + then.put_back,
        first.abandoned + then.abandoned,
    )


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
