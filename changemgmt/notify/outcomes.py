"""Recording what became of each claimed delivery: sent, to be retried, failed for good,
or skipped. One transaction per batch and a handful of statements per batch, whatever
its size: each statement runs once with the rows of every delivery it concerns."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from changemgmt.domain.retry import gives_up, retry_delay
from changemgmt.notify.claim import Claim
from changemgmt.notify.transports.base import SendError
from changemgmt.store.models import Delivery, DeliveryAttempt, Notice, Recipient, UtcDateTime

ATTEMPTS, DELIVERIES = DeliveryAttempt.__table__, Delivery.__table__
NOTICES, RECIPIENTS = Notice.__table__, Recipient.__table__


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    provider_message_id: str | None = None
    contact_ids: tuple[int, ...] = ()
    error: SendError | None = None
    skipped: str | None = None


def record_outcomes(session: Session, outcomes: list[Outcome], now: datetime, max_attempts: int,
                    rng: random.Random) -> None:
    rows = _Rows()
    for outcome in outcomes:  # in order: the retry jitter is drawn in this order
        if outcome.skipped:
            rows.skipped(outcome)
        elif outcome.error is None:
            rows.sent(outcome)
        else:
            rows.failed_attempt(outcome, now, max_attempts, rng)
    rows.write(session, now)


@dataclass
class _Rows:
    """The parameters of each statement, one entry per delivery (or recipient)."""

    sent_attempts: list[dict] = field(default_factory=list)
    other_attempts: list[dict] = field(default_factory=list)
    sent_deliveries: list[dict] = field(default_factory=list)
    settled_deliveries: list[dict] = field(default_factory=list)
    retried_deliveries: list[dict] = field(default_factory=list)
    sent_recipients: list[dict] = field(default_factory=list)
    other_recipients: list[dict] = field(default_factory=list)  # those still pending, after sent_recipients
    notices: list[dict] = field(default_factory=list)  # in outcome order: deliveries may share a notice

    def sent(self, outcome: Outcome) -> None:
        claim, message_id = outcome.claim, outcome.provider_message_id
        self.sent_attempts.append({"b_delivery": claim.delivery_id, "b_number": claim.attempt, "b_id": message_id})
        self.sent_deliveries.append({"b_delivery": claim.delivery_id, "b_id": message_id})
        self._recipients(claim, outcome.contact_ids)
        self.other_recipients.append({"b_delivery": claim.delivery_id, "b_state": "skipped"})  # ineligible since
        self._notice(claim, "sent", None)

    def skipped(self, outcome: Outcome) -> None:
        claim, reason = outcome.claim, outcome.skipped
        self._attempt(claim, "skipped", reason)
        self.settled_deliveries.append({"b_delivery": claim.delivery_id, "b_state": "skipped", "b_error": reason})
        self.other_recipients.append({"b_delivery": claim.delivery_id, "b_state": "skipped"})
        self._notice(claim, "skipped", reason)

    def failed_attempt(self, outcome: Outcome, now: datetime, max_attempts: int, rng: random.Random) -> None:
        claim, error = outcome.claim, outcome.error
        self._recipients(claim, error.sent_contact_ids)
        message = str(error) if error.status is None else f"{error.status}: {error}"
        if gives_up(claim.attempt, max_attempts, error.permanent):
            self._attempt(claim, "failed", message)
            self.settled_deliveries.append({"b_delivery": claim.delivery_id, "b_state": "failed", "b_error": message})
            self.other_recipients.append({"b_delivery": claim.delivery_id, "b_state": "failed"})
            self._notice(claim, "failed", message)
            return
        delay = retry_delay(claim.attempt, rng.random(), error.retry_after)
        self._attempt(claim, "retry", message)
        self.retried_deliveries.append({"b_delivery": claim.delivery_id, "b_next": now + delay, "b_error": message})

    def _attempt(self, claim: Claim, outcome: str, error: str | None) -> None:
        self.other_attempts.append({"b_delivery": claim.delivery_id, "b_number": claim.attempt,
                                    "b_outcome": outcome, "b_error": error})

    def _recipients(self, claim: Claim, contact_ids) -> None:
        self.sent_recipients += [{"b_delivery": claim.delivery_id, "b_contact": c} for c in contact_ids]

    def _notice(self, claim: Claim, state: str, reason: str | None) -> None:
        self.notices.append({"b_notice": claim.notice_id, "b_state": state, "b_reason": reason})

    def write(self, session: Session, now: datetime) -> None:
        connection = session.connection()
        for statement, rows in _statements(now, self):
            if rows:
                connection.execute(statement, rows)


def _statements(now: datetime, rows: _Rows) -> list[tuple]:
    attempt = update(ATTEMPTS).where(ATTEMPTS.c.delivery_id == bindparam("b_delivery"),
                                     ATTEMPTS.c.number == bindparam("b_number"))
    delivery = update(DELIVERIES).where(DELIVERIES.c.id == bindparam("b_delivery")).values(
        claimed_until=None, claimed_by=None)
    pending = update(RECIPIENTS).where(RECIPIENTS.c.delivery_id == bindparam("b_delivery"),
                                       RECIPIENTS.c.state == "pending")
    return [
        (attempt.values(finished_at=now, outcome="sent", provider_message_id=bindparam("b_id")), rows.sent_attempts),
        (attempt.values(finished_at=now, outcome=bindparam("b_outcome"), error=bindparam("b_error")),
         rows.other_attempts),
        (delivery.values(state="sent", sent_at=now, provider_message_id=bindparam("b_id"), last_error=None),
         rows.sent_deliveries),
        (delivery.values(state=bindparam("b_state"), last_error=bindparam("b_error")), rows.settled_deliveries),
        (delivery.values(state="pending", next_attempt_at=bindparam("b_next", type_=UtcDateTime()),
                         last_error=bindparam("b_error")), rows.retried_deliveries),
        (pending.where(RECIPIENTS.c.contact_id == bindparam("b_contact")).values(state="sent", updated_at=now),
         rows.sent_recipients),
        (pending.values(state=bindparam("b_state"), updated_at=now), rows.other_recipients),
        (update(NOTICES).where(NOTICES.c.id == bindparam("b_notice"), NOTICES.c.state == "pending")
         .values(state=bindparam("b_state"), settled_at=now, skip_reason=bindparam("b_reason")), rows.notices),
    ]
