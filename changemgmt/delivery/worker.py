"""The worker: claims due deliveries a batch at a time, renders each notice, sends it,
and records the outcome as soon as it is known. Every attempt is recorded before the
send (at the claim) and completed after it, so a crash mid-send leaves evidence, and the
clock gives a dead worker's claims back once its heartbeat stops.

At most `concurrency` deliveries are ever sent and not yet recorded (a send takes a
permit, the recorder returns it once the outcome is written), so a worker killed at any
moment re-sends at most that many after a restart. On a stop (SIGTERM) it claims no more,
lets the sends in flight finish within the grace period, records them, and puts back at
once every claim it never sent (delivery.recorder, delivery.claim.put_back)."""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.content.view import NoticeView, Recipient
from changemgmt.delivery.breaker import Breaker, GuardedTransport
from changemgmt.delivery.claim import Claim, claim_due, next_due_at
from changemgmt.delivery.compose import NoticeFacts, RevisionCache, compose_each, recipients_of
from changemgmt.delivery.links import NoticeLinks, customer_names, feed_links, notice_links
from changemgmt.delivery.message import OutgoingMessage, build_email
from changemgmt.delivery.outcomes import Outcome
from changemgmt.delivery.recorder import Recorder
from changemgmt.delivery.render import Renderer
from changemgmt.delivery.sending import SendThreads
from changemgmt.delivery.transports.base import SendError, Transport
from changemgmt.domain.states import NoticeState
from changemgmt.store.bulk import among
from changemgmt.store.db import session_factory
from changemgmt.store.models import Notice, Window

log = logging.getLogger(__name__)

# Claiming, loading and recording cost per batch as well as per delivery: 250 at a time
# took a fifth less of the worker's database time than 100 (bench/fanout.py).
BATCH_SIZE = 250
# A worker's threads mostly wait on the network: each answer wakes a send thread (or the
# recorder) that must then take the GIL from the renderer, which keeps it up to the switch
# interval, 5 ms by default. At 1 ms the sends and the recorder keep up with the renderer:
# the worker was idle a tenth of its time at 5 ms, and sends ~5% more a second at 1 ms
# (bench/fanout.py).
SWITCH_INTERVAL = 0.001
# Messages rendered while every send permit is taken: the renderer works on instead of
# waiting for the sends and the recorder (it waited more than half its time at 32 permits).
RENDER_AHEAD = 16
ABANDONED = "the worker stopped before this send finished (grace period over); its outcome is unknown"


def favour_waiting_threads() -> None:
    """Sets this process's GIL switch interval to SWITCH_INTERVAL: for a process that
    runs a worker."""
    sys.setswitchinterval(SWITCH_INTERVAL)


@dataclass
class _Batch:
    """A claimed batch, loaded: what goes out (with its views and recipients), and the
    outcomes of the claims that are not to be sent, with why."""

    claims: list[Claim]
    now: datetime
    views: dict[int, NoticeView] = field(default_factory=dict)
    recipients: dict[int, list[Recipient]] = field(default_factory=dict)
    to_send: list[tuple[Claim, int]] = field(default_factory=list)  # (claim, notice id)
    not_sent: list[Outcome] = field(default_factory=list)
    links: dict[int, NoticeLinks] = field(default_factory=dict)  # by delivery id: the footer's feed links


class _NoticeRow(Protocol):
    """What the worker reads of a claimed notice: a row of the notices table's columns
    (a `Notice` would do too, at the cost of the ORM's objects)."""

    @property
    def id(self) -> int: ...
    @property
    def gcr_id(self) -> int: ...
    @property
    def customer_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def window_number(self) -> int | None: ...
    @property
    def offset_minutes(self) -> int | None: ...
    @property
    def due_at(self) -> datetime: ...


@dataclass
class Worker:
    engine: Engine
    transport: Transport
    settings: Settings
    clock: Callable[[], datetime]
    name: str = "worker"  # claimed_by: the heartbeat id of the process, when it has one
    batch_size: int = BATCH_SIZE
    concurrency: int | None = None  # send threads (default: SEND_CONCURRENCY)
    lease: timedelta = timedelta(minutes=5)  # only for a worker without a heartbeat row
    rng: random.Random = field(default_factory=random.Random)
    renderer: Renderer | None = None
    grace: float | None = None  # seconds a stop waits for sends in flight (default: WORKER_GRACE_SECONDS)
    breaker: Breaker | None = None  # default: one from the settings

    def __post_init__(self) -> None:
        self.breaker = self.breaker or Breaker(self.settings.breaker_failures, self.settings.breaker_max_pause)
        self.sender = GuardedTransport(self.transport, self.breaker, self.clock)
        self.concurrency = self.concurrency or self.settings.send_concurrency
        self.grace = self.settings.worker_grace_seconds if self.grace is None else self.grace
        self.sessions = session_factory(self.engine)
        self.renderer = self.renderer or Renderer.from_settings(self.settings)
        self.sends = SendThreads(self.concurrency)
        # The database side (claim, load) runs here, beside the rendering; the recorder writes outcomes.
        self.database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self.recorder = Recorder(
            self.engine,
            self.name,
            self.clock,
            self.settings.give_up_after,
            self.rng,
            group_target=max(1, self.concurrency // 2),
        )
        # Revisions never change: parse each once for all batches, not once per batch.
        self.revisions = RevisionCache(maxsize=4)
        self._permits = threading.Semaphore(self.concurrency)  # sent or sending, and not recorded
        self._in_flight: dict[int, Claim] = {}
        self._mutex = threading.Condition()  # over _in_flight; notified when it empties

    def run_once(self) -> int:
        """Claims and settles one batch, its outcomes recorded together in claim order at
        the end (so a seeded retry jitter is drawn in a fixed order); returns how many
        deliveries it handled (0: none due)."""
        batch = self._claim()
        if batch is None:
            return 0
        outcomes, sends = list(batch.not_sent), []
        for claim, notice_id in batch.to_send:
            message = self._render(batch, claim, notice_id)
            if isinstance(message, Outcome):
                outcomes.append(message)
            else:
                sends.append(self.sends.submit(self._sent_outcome, claim, message))
        self.recorder.add_all(outcomes + [future.result() for future in sends])
        self.recorder.flush()
        return len(batch.claims)

    def drain(self, stop: threading.Event | None = None) -> int:
        """Sends everything due now, or until `stop` is set; returns how many deliveries
        were handled (given back ones not counted).

        Pipelined: while one batch renders and sends, the database thread claims and loads
        the next, and the recorder writes each outcome as it comes. A batch claimed ahead
        cannot hold a delivery that waits on one still in flight (that one is `sending`),
        so such a delivery goes one batch later; nothing is claimed twice or out of order.
        Once `stop` is set it winds down within the grace period (`_wind_down`)."""
        stop = stop or threading.Event()
        total = 0
        asked_at, upcoming = self.recorder.written, self.database.submit(self._claim)
        while True:
            batch = self._result(upcoming, stop)
            if stop.is_set():
                self._wind_down(batch)
                return total
            if batch is None:
                self._wait_settled(stop)  # its outcomes may make more deliveries due
                if not stop.is_set() and self.recorder.written == asked_at:
                    return total  # nothing was written since before that claim found nothing
                asked_at, upcoming = self.recorder.written, self.database.submit(self._claim)
                continue
            asked_at, upcoming = self.recorder.written, self.database.submit(self._claim)
            total += self._send_batch(batch, stop)

    def seconds_to_next_due(self) -> float | None:
        """Seconds until the next delivery not yet due falls due (None: none waits)."""
        now = self.clock()
        due = next_due_at(self.engine, now)
        return None if due is None else max(0.0, (due - now).total_seconds())

    def close(self) -> None:
        """Writes what is left to write and ends the threads (a send still hanging past
        the grace period is left to die with the process)."""
        self.database.shutdown(wait=True)
        self.recorder.close(timeout=max(1.0, self.grace or 0.0))
        self.sends.close(timeout=0.2)

    def _claim(self) -> _Batch | None:
        now = self.clock()
        if self.breaker is not None and self.breaker.paused(now):
            return None  # the provider is failing: nothing would be sent
        claims = claim_due(self.engine, now=now, limit=self.batch_size, lease=self.lease, worker=self.name)
        if not claims:
            return None
        try:
            return self._load(claims, now)
        except BaseException:
            self.recorder.give_back([c.delivery_id for c in claims])  # claimed, never sent: back at once
            raise

    def _load(self, claims: list[Claim], now: datetime) -> _Batch:
        batch = _Batch(claims, now)
        with self.sessions() as session:
            # Rows of columns, read like Notice objects: the ORM's objects cost more than the query.
            notices: dict[int, _NoticeRow] = {
                n.id: n
                for n in session.execute(
                    select(*Notice.__table__.c).where(among(Notice.__table__.c.id, [c.notice_id for c in claims]))
                )
            }
            batch.views, uncomposed = compose_each(
                session, [NoticeFacts.of(n) for n in notices.values()], self.settings, now, self.revisions.bind(session)
            )
            batch.recipients = recipients_of(session, [c.delivery_id for c in claims], self.settings)
            for claim in claims:
                notice = notices[claim.notice_id]
                if notice.id in uncomposed:  # it fails alone, for good: composing it again gives the same
                    failure = SendError(f"composing failed: {uncomposed[notice.id]}", permanent=True)
                    batch.not_sent.append(Outcome(claim, error=failure))
                    continue
                reason = _pointless(session, notice, now)
                if reason is None and not batch.recipients.get(claim.delivery_id):
                    reason = "no recipient is eligible any more (unsubscribed or suppressed)"
                if reason:
                    batch.not_sent.append(Outcome(claim, skipped=reason))
                else:
                    batch.to_send.append((claim, notice.id))
        try:
            self._links(batch, {c.delivery_id: notices[c.notice_id].customer_id for c, _ in batch.to_send})
        except Exception:  # the feed links are a courtesy: mail goes without them rather than not at all
            log.exception("the feed links of a batch could not be read; its footers go without them")
        return batch

    def _links(self, batch: _Batch, customers: dict[int, int]) -> None:
        """The feed links of each delivery's footer: its customer's feed, and the
        enterprise feeds of its recipients from enterprises above that customer."""
        above = {
            delivery_id: {r.customer_id for r in batch.recipients[delivery_id] if r.customer_id not in (None, customer)}
            for delivery_id, customer in customers.items()
        }
        enterprises = {e for ids in above.values() for e in ids if e is not None}
        links = feed_links(self.sessions, self.settings, set(customers.values()), enterprises, batch.now)
        with self.sessions() as session:
            names = customer_names(session, enterprises)
        for delivery_id, customer in customers.items():
            batch.links[delivery_id] = notice_links(links, customer, {e: names[e] for e in above[delivery_id] if e})

    def _result(self, upcoming: Future, stop: threading.Event) -> _Batch | None:
        """The claimed batch; a failed claim raises, unless the worker is stopping anyway."""
        try:
            return upcoming.result()
        except Exception:
            if stop.is_set():
                return None
            raise

    def _send_batch(self, batch: _Batch, stop: threading.Event) -> int:
        """Renders each message and hands it to a send thread once a send permit is free.
        While every permit is taken (sends in flight, outcomes being recorded), it renders
        ahead, up to RENDER_AHEAD messages, rather than wait. Returns how many deliveries
        it settled or sent; what the stop left unsent is given back."""
        self.recorder.add_all(batch.not_sent)
        handled = len(batch.not_sent)
        ready: deque[tuple[Claim, OutgoingMessage]] = deque()
        rendered = 0
        for claim, notice_id in batch.to_send:
            if stop.is_set():
                break
            rendered += 1
            message = self._render(batch, claim, notice_id)
            if isinstance(message, Outcome):
                self.recorder.add(message)
                handled += 1
                continue
            ready.append((claim, message))
            handled += self._send_ready(ready, stop, keep=RENDER_AHEAD - 1)
        handled += self._send_ready(ready, stop, keep=0)
        unsent = [claim for claim, _ in ready] + [claim for claim, _ in batch.to_send[rendered:]]
        if unsent:
            self.recorder.give_back([claim.delivery_id for claim in unsent])
        return handled

    def _send_ready(self, ready: deque[tuple[Claim, OutgoingMessage]], stop: threading.Event, keep: int) -> int:
        """Sends the rendered messages, oldest first: while permits are free, and waiting
        for one while more than `keep` are left. Returns how many it sent."""
        sent = 0
        while ready and self._permit(stop, wait=len(ready) > keep):
            claim, message = ready.popleft()
            with self._mutex:
                self._in_flight[claim.delivery_id] = claim
            self.sends.submit(self._send_and_record, claim, message)
            sent += 1
        return sent

    def _render(self, batch: _Batch, claim: Claim, notice_id: int) -> OutgoingMessage | Outcome:
        """The message, or the outcome of a delivery that cannot be rendered."""
        try:
            message = build_email(
                batch.views[notice_id],
                batch.recipients[claim.delivery_id],
                self.settings,
                self.renderer,
                batch.links.get(claim.delivery_id),
            )
        except Exception as exc:  # a template bug must fail this delivery, not the batch
            log.exception("rendering notice %s failed", notice_id)
            return Outcome(claim, error=SendError(f"rendering failed: {exc}", permanent=True))
        if not message.recipients:  # every recipient refused: nobody to send it to
            failure = SendError("; ".join(message.refused.values()), permanent=True)
            return Outcome(claim, error=failure, refused=message.refused)
        return message

    def _permit(self, stop: threading.Event, wait: bool = True) -> bool:
        """Takes a free send permit, waiting for one unless `wait` is False; False when
        none was free or `stop` came first."""
        if wait:
            while not self._permits.acquire(timeout=0.05):
                if stop.is_set():
                    return False
        elif not self._permits.acquire(blocking=False):
            return False
        if stop.is_set():
            self._permits.release()
            return False
        return True

    def _send_and_record(self, claim: Claim, message: OutgoingMessage) -> None:
        """In a send thread: sends, and hands the outcome to the recorder at once (unless
        the delivery was abandoned meanwhile: then it is no longer this worker's)."""
        outcome = self._sent_outcome(claim, message)
        with self._mutex:  # handed over before it leaves _in_flight: never neither sending nor recording
            mine = self._in_flight.pop(claim.delivery_id, None) is not None
            if mine:
                self.recorder.add(outcome, done=self._permits.release)
            if not self._in_flight:
                self._mutex.notify_all()
        if not mine:
            self._permits.release()

    def _sent_outcome(self, claim: Claim, message: OutgoingMessage) -> Outcome:
        """The send step: hands the message to the transport; its outcome, never raised."""
        try:
            result = self.sender.send(message)
        except SendError as error:
            return Outcome(claim, error=error, refused=message.refused)
        except Exception as exc:  # an unexpected transport fault may pass: try again later
            log.exception("sending delivery %s failed", claim.delivery_id)
            failure = SendError(f"{type(exc).__name__}: {exc}", permanent=False)
            return Outcome(claim, error=failure, refused=message.refused)
        refused = {**message.refused, **result.refused}
        return Outcome(
            claim,
            provider_message_id=result.provider_message_id,
            contact_ids=tuple(r.contact_id for r in message.recipients if r.contact_id not in refused),
            refused=refused,
        )

    def _wait_settled(self, stop: threading.Event) -> None:
        """Waits until every send is back and recorded, or `stop` is set."""
        self._wait_sent(lambda: stop.is_set())
        while not stop.is_set() and not self.recorder.flush(0.1):
            pass

    def _wait_sent(self, give_up: Callable[[], bool]) -> None:
        with self._mutex:
            while self._in_flight and not give_up():
                self._mutex.wait(0.05)

    def _wind_down(self, batch: _Batch | None) -> None:
        """The stop: gives back the batch claimed ahead, waits for the sends in flight
        until the grace period's last seconds, abandons those still running (their
        outcome unknown: due again, the attempt recorded as abandoned), and writes
        everything before the grace period ends."""
        assert self.grace is not None
        started = time.monotonic()
        sends_until = started + self.grace - min(2.0, self.grace / 2)  # the rest is for the writing
        if batch is not None:
            self.recorder.give_back([c.delivery_id for c in batch.claims])
        self._wait_sent(lambda: time.monotonic() >= sends_until)
        with self._mutex:
            left = list(self._in_flight)
            self._in_flight.clear()
        if left:
            log.warning(
                "worker %s: %s send(s) still in flight after the grace period: abandoned, due again",
                self.name,
                len(left),
                extra={"event": "sends_abandoned", "process_id": self.name, "deliveries": left},
            )
            self.recorder.give_back([], left, ABANDONED)
        self.recorder.flush(max(0.1, started + self.grace - time.monotonic()))


def _pointless(session: Session, notice: _NoticeRow, now: datetime) -> str | None:
    """Why a claimed notice should no longer go out (STANDARDS E5), or None."""
    if notice.state != NoticeState.PENDING:
        return f"the notice is {notice.state}"
    if notice.kind == "reminder":
        window = session.scalar(
            select(Window).where(Window.gcr_id == notice.gcr_id, Window.number == notice.window_number)
        )
        if window is None or window.dropped_at is not None:
            return "its window was dropped"
        if window.starts_at <= now:
            return "its window started before the reminder could be sent"
        expected_due = window.starts_at - timedelta(minutes=notice.offset_minutes or 0)
        if expected_due != notice.due_at:
            return "its window moved"
    return None
