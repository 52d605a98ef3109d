"""The worker: claims due deliveries a batch at a time, renders each notice, sends it,
and records the outcome. Every attempt is recorded before the send (at the claim) and
completed after it, so a crash mid-send leaves evidence and the lease brings it back."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
from changemgmt.delivery.outcomes import Outcome, record_outcomes
from changemgmt.delivery.render import Renderer
from changemgmt.delivery.transports.base import SendError, Transport
from changemgmt.domain.states import NoticeState
from changemgmt.store.bulk import among
from changemgmt.store.db import session_factory, transaction
from changemgmt.store.models import Notice, Window

log = logging.getLogger(__name__)

# Claiming, loading and recording cost per batch as well as per delivery: 250 at a time
# took a fifth less of the worker's database time than 100 (bench/fanout.py).
BATCH_SIZE = 250


@dataclass
class _Batch:
    """A claimed batch, loaded: what goes out (with its views and recipients), and the
    outcomes of the claims that are not to be sent, with why."""

    claims: list[Claim]
    now: datetime
    views: dict[int, NoticeView] = field(default_factory=dict)
    recipients: dict[int, list[Recipient]] = field(default_factory=dict)
    to_send: list[tuple[Claim, int]] = field(default_factory=list)  # (claim, notice id)
    links: dict[int, NoticeLinks] = field(default_factory=dict)  # by delivery id: the footer's feed links
    not_sent: list[Outcome] = field(default_factory=list)


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
    name: str = "worker"
    batch_size: int = BATCH_SIZE
    concurrency: int = 8
    lease: timedelta = timedelta(minutes=5)
    rng: random.Random = field(default_factory=random.Random)
    renderer: Renderer | None = None
    breaker: Breaker | None = None  # default: one from the settings

    def __post_init__(self) -> None:
        self.breaker = self.breaker or Breaker(self.settings.breaker_failures, self.settings.breaker_max_pause)
        self.sender = GuardedTransport(self.transport, self.breaker, self.clock)
        self.sessions = session_factory(self.engine)
        self.renderer = self.renderer or Renderer.from_settings(self.settings)
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="send")
        # The database side (claim, load, record) runs here, in order, beside the rendering.
        self.database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        # Revisions never change: parse each once for all batches, not once per batch.
        self.revisions = RevisionCache(maxsize=4)

    def run_once(self) -> int:
        """Claims and settles one batch; returns how many deliveries it handled (0: none due)."""
        batch = self._claim()
        if batch is None:
            return 0
        self._record(self._send(batch))
        return len(batch.claims)

    def drain(self) -> int:
        """Sends everything due now; returns how many deliveries were handled.

        Pipelined: while one batch renders and sends, the database thread claims and loads
        the next, then records the outcomes of this one. A batch claimed ahead cannot hold
        a delivery that waits on the batch before it (that one is still `sending`), so such
        a delivery goes one batch later; nothing is claimed twice or out of order."""
        total = 0
        recording = None
        upcoming = self.database.submit(self._claim)
        while True:
            batch = upcoming.result()
            if batch is None:
                if recording is None:
                    return total
                recording.result()  # its outcomes may have made more deliveries due
                recording = None
                upcoming = self.database.submit(self._claim)
                continue
            upcoming = self.database.submit(self._claim)
            outcomes = self._send(batch)
            if recording is not None:
                recording.result()
            recording = self.database.submit(self._record, outcomes)
            total += len(batch.claims)

    def seconds_to_next_due(self) -> float | None:
        """Seconds until the next delivery not yet due falls due (None: none waits)."""
        now = self.clock()
        due = next_due_at(self.engine, now)
        return None if due is None else max(0.0, (due - now).total_seconds())

    def close(self) -> None:
        self.database.shutdown(wait=True)
        self.pool.shutdown(wait=True)

    def _claim(self) -> _Batch | None:
        now = self.clock()
        if self.breaker is not None and self.breaker.paused(now):
            return None  # the provider is failing: nothing would be sent
        claims = claim_due(self.engine, now=now, limit=self.batch_size, lease=self.lease, worker=self.name)
        return self._load(claims, now) if claims else None

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

    def _send(self, batch: _Batch) -> list[Outcome]:
        """Renders each message and hands it to a send thread at once, so that sending
        overlaps the rendering of the next; returns every claim's outcome."""
        outcomes = list(batch.not_sent)
        sends = []
        for claim, notice_id in batch.to_send:
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
                outcomes.append(Outcome(claim, error=SendError(f"rendering failed: {exc}", permanent=True)))
                continue
            if not message.recipients:  # every recipient refused: nobody to send it to
                failure = SendError("; ".join(message.refused.values()), permanent=True)
                outcomes.append(Outcome(claim, error=failure, refused=message.refused))
                continue
            sends.append((claim, message, self.pool.submit(self.sender.send, message)))
        return outcomes + [self._outcome(claim, message, future) for claim, message, future in sends]

    def _record(self, outcomes: list[Outcome]) -> None:
        with transaction(self.sessions) as session:
            record_outcomes(session, outcomes, self.clock(), self.settings.give_up_after, self.rng)

    def _outcome(self, claim: Claim, message: OutgoingMessage, future) -> Outcome:
        try:
            result = future.result()
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
