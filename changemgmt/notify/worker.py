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

from sqlalchemy import Engine, select

from changemgmt.config import Settings
from changemgmt.notify.claim import Claim, claim_due
from changemgmt.notify.compose import RevisionCache, compose_views, recipients_of
from changemgmt.notify.message import OutgoingMessage, build_email
from changemgmt.notify.outcomes import Outcome, record_outcomes
from changemgmt.notify.render import Renderer
from changemgmt.notify.transports.base import SendError, Transport
from changemgmt.store.db import session_factory
from changemgmt.store.models import Notice, Window

log = logging.getLogger(__name__)


@dataclass
class Worker:
    engine: Engine
    transport: Transport
    settings: Settings
    clock: Callable[[], datetime]
    name: str = "worker"
    batch_size: int = 100
    concurrency: int = 8
    lease: timedelta = timedelta(minutes=5)
    rng: random.Random = field(default_factory=random.Random)
    renderer: Renderer | None = None

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)
        self.renderer = self.renderer or Renderer.from_settings(self.settings)
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="send")
        # Revisions never change: parse each once for all batches, not once per batch.
        self.revisions = RevisionCache(maxsize=4)

    def run_once(self) -> int:
        """Claims and settles one batch; returns how many deliveries it handled (0: none due)."""
        now = self.clock()
        claims = claim_due(self.engine, now=now, limit=self.batch_size, lease=self.lease, worker=self.name)
        if not claims:
            return 0
        messages, outcomes = self._prepare(claims, now)
        sends = {c.delivery_id: self.pool.submit(self.transport.send, m) for c, m in messages}
        for claim, message in messages:
            outcomes.append(self._outcome(claim, message, sends[claim.delivery_id]))
        with self.sessions.begin() as session:
            record_outcomes(session, outcomes, self.clock(), self.settings.max_attempts, self.rng)
        return len(claims)

    def drain(self) -> int:
        """Sends everything due now; returns how many deliveries were handled."""
        total = 0
        while handled := self.run_once():
            total += handled
        return total

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def _prepare(self, claims: list[Claim], now: datetime) -> tuple[list[tuple[Claim, OutgoingMessage]], list]:
        outcomes: list[Outcome] = []
        messages = []
        with self.sessions() as session:
            notices = {n.id: n for n in session.scalars(select(Notice).where(
                Notice.id.in_([c.notice_id for c in claims])))}
            views = compose_views(session, list(notices.values()), self.settings, now, self.revisions.bind(session))
            recipients = recipients_of(session, [c.delivery_id for c in claims], self.settings)
            for claim in claims:
                notice = notices[claim.notice_id]
                reason = _pointless(session, notice, now)
                if reason is None and not recipients.get(claim.delivery_id):
                    reason = "no recipient is eligible any more (unsubscribed or suppressed)"
                if reason:
                    outcomes.append(Outcome(claim, skipped=reason))
                    continue
                try:
                    message = build_email(views[notice.id], recipients[claim.delivery_id], self.settings,
                                          self.renderer)
                except Exception as exc:  # a template bug must fail this delivery, not the batch
                    log.exception("rendering notice %s failed", notice.id)
                    outcomes.append(Outcome(claim, error=SendError(f"rendering failed: {exc}", permanent=True)))
                    continue
                messages.append((claim, message))
        return messages, outcomes

    def _outcome(self, claim: Claim, message: OutgoingMessage, future) -> Outcome:
        try:
            result = future.result()
        except SendError as error:
            return Outcome(claim, error=error)
        except Exception as exc:  # an unexpected transport fault may pass: try again later
            log.exception("sending delivery %s failed", claim.delivery_id)
            return Outcome(claim, error=SendError(f"{type(exc).__name__}: {exc}", permanent=False))
        return Outcome(claim, provider_message_id=result.provider_message_id,
                       contact_ids=tuple(r.contact_id for r in message.recipients))


def _pointless(session, notice: Notice, now: datetime) -> str | None:
    """Why a claimed notice should no longer go out (STANDARDS E5), or None."""
    if notice.state != "pending":
        return f"the notice is {notice.state}"
    if notice.kind == "reminder":
        window = session.scalar(select(Window).where(Window.gcr_id == notice.gcr_id,
                                                     Window.number == notice.window_number))
        if window is None or window.dropped_at is not None:
            return "its window was dropped"
        if window.starts_at <= now:
            return "its window started before the reminder could be sent"
        expected_due = window.starts_at - timedelta(minutes=notice.offset_minutes or 0)
        if expected_due != notice.due_at:
            return "its window moved"
    return None
