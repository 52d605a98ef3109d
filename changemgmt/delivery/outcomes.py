"""Recording what became of each claimed delivery: sent, to be retried, failed for good,
or skipped. One transaction per batch and a handful of statements per batch, whatever
its size: each statement runs once with the rows of every delivery it concerns."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from changemgmt.domain.retry import gives_up, retry_delay
from changemgmt.delivery.claim import Claim
from changemgmt.delivery.transports.base import SendError
from changemgmt.store.bulk import update_rows
from changemgmt.store.models import Delivery, DeliveryAttempt, Notice, Recipient

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
        self.sent_attempts.append({"delivery_id": claim.delivery_id, "number": claim.attempt,
                                   "provider_message_id": message_id})
        self.sent_deliveries.append({"id": claim.delivery_id, "provider_message_id": message_id})
        self._recipients(claim, outcome.contact_ids)
        self.other_recipients.append({"delivery_id": claim.delivery_id, "state": "skipped"})  # ineligible since
        self._notice(claim, "sent", None)

    def skipped(self, outcome: Outcome) -> None:
        claim, reason = outcome.claim, outcome.skipped
        self._attempt(claim, "skipped", reason)
        self.settled_deliveries.append({"id": claim.delivery_id, "state": "skipped", "last_error": reason})
        self.other_recipients.append({"delivery_id": claim.delivery_id, "state": "skipped"})
        self._notice(claim, "skipped", reason)

    def failed_attempt(self, outcome: Outcome, now: datetime, max_attempts: int, rng: random.Random) -> None:
        claim, error = outcome.claim, outcome.error
        self._recipients(claim, error.sent_contact_ids)
        message = str(error) if error.status is None else f"{error.status}: {error}"
        if gives_up(claim.attempt, max_attempts, error.permanent):
            self._attempt(claim, "failed", message)
            self.settled_deliveries.append({"id": claim.delivery_id, "state": "failed", "last_error": message})
            self.other_recipients.append({"delivery_id": claim.delivery_id, "state": "failed"})
            self._notice(claim, "failed", message)
            return
        delay = retry_delay(claim.attempt, rng.random(), error.retry_after)
        self._attempt(claim, "retry", message)
        self.retried_deliveries.append({"id": claim.delivery_id, "next_attempt_at": now + delay,
                                        "last_error": message})

    def _attempt(self, claim: Claim, outcome: str, error: str | None) -> None:
        self.other_attempts.append({"delivery_id": claim.delivery_id, "number": claim.attempt, "outcome": outcome,
                                    "error": error})

    def _recipients(self, claim: Claim, contact_ids) -> None:
        self.sent_recipients += [{"delivery_id": claim.delivery_id, "contact_id": c} for c in contact_ids]

    def _notice(self, claim: Claim, state: str, reason: str | None) -> None:
        self.notices.append({"id": claim.notice_id, "state": state, "skip_reason": reason})

    def write(self, session: Session, now: datetime) -> None:
        released = {"claimed_until": None, "claimed_by": None}
        pending = {"state": "pending"}
        writes = [
            (ATTEMPTS, self.sent_attempts, ("delivery_id", "number"), {}, {"finished_at": now, "outcome": "sent"}),
            (ATTEMPTS, self.other_attempts, ("delivery_id", "number"), {}, {"finished_at": now}),
            (DELIVERIES, self.sent_deliveries, ("id",), {},
             {**released, "state": "sent", "sent_at": now, "last_error": None}),
            (DELIVERIES, self.settled_deliveries, ("id",), {}, released),
            (DELIVERIES, self.retried_deliveries, ("id",), {}, {**released, "state": "pending"}),
            (RECIPIENTS, self.sent_recipients, ("delivery_id", "contact_id"), pending,
             {"state": "sent", "updated_at": now}),
            (RECIPIENTS, self.other_recipients, ("delivery_id",), pending, {"updated_at": now}),
            (NOTICES, _first_per_notice(self.notices), ("id",), pending, {"settled_at": now}),
        ]
        for table, rows, match, only, constants in writes:
            update_rows(session, table, rows, match=match, only=only, constants=constants)


def _first_per_notice(rows: list[dict]) -> list[dict]:
    """Deliveries may share a notice: its first outcome in the batch settles it."""
    first: dict[int, dict] = {}
    for row in rows:
        first.setdefault(row["id"], row)
    return list(first.values())
