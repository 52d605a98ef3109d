"""Recording what became of each claimed delivery: sent, to be retried, failed for good,
or skipped. One transaction per batch, a few statements per delivery."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from changemgmt.domain.retry import gives_up, retry_delay
from changemgmt.notify.claim import Claim
from changemgmt.notify.transports.base import SendError
from changemgmt.store.models import Delivery, DeliveryAttempt, Notice, Recipient


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    provider_message_id: str | None = None
    contact_ids: tuple[int, ...] = ()
    error: SendError | None = None
    skipped: str | None = None


def record_outcomes(session: Session, outcomes: list[Outcome], now: datetime, max_attempts: int,
                    rng: random.Random) -> None:
    for outcome in outcomes:
        if outcome.skipped:
            _skipped(session, outcome, now)
        elif outcome.error is None:
            _sent(session, outcome, now)
        else:
            _failed_attempt(session, outcome, now, max_attempts, rng)


def _attempt(session: Session, claim: Claim, now: datetime, **values) -> None:
    session.execute(update(DeliveryAttempt)
                    .where(DeliveryAttempt.delivery_id == claim.delivery_id, DeliveryAttempt.number == claim.attempt)
                    .values(finished_at=now, **values))


def _delivery(session: Session, claim: Claim, **values) -> None:
    session.execute(update(Delivery).where(Delivery.id == claim.delivery_id)
                    .values(claimed_until=None, claimed_by=None, **values))


def _notice(session: Session, claim: Claim, state: str, now: datetime, reason: str | None = None) -> None:
    session.execute(update(Notice).where(Notice.id == claim.notice_id, Notice.state == "pending")
                    .values(state=state, settled_at=now, skip_reason=reason))


def _recipients(session: Session, claim: Claim, contact_ids, state: str, now: datetime) -> None:
    statement = update(Recipient).where(Recipient.delivery_id == claim.delivery_id, Recipient.state == "pending")
    if contact_ids is not None:
        statement = statement.where(Recipient.contact_id.in_(contact_ids))
    session.execute(statement.values(state=state, updated_at=now))


def _sent(session: Session, outcome: Outcome, now: datetime) -> None:
    claim = outcome.claim
    _attempt(session, claim, now, outcome="sent", provider_message_id=outcome.provider_message_id)
    _delivery(session, claim, state="sent", sent_at=now, provider_message_id=outcome.provider_message_id,
              last_error=None)
    _recipients(session, claim, outcome.contact_ids, "sent", now)
    _recipients(session, claim, None, "skipped", now)  # became ineligible since planning
    _notice(session, claim, "sent", now)


def _skipped(session: Session, outcome: Outcome, now: datetime) -> None:
    claim = outcome.claim
    _attempt(session, claim, now, outcome="skipped", error=outcome.skipped)
    _delivery(session, claim, state="skipped", last_error=outcome.skipped)
    _recipients(session, claim, None, "skipped", now)
    _notice(session, claim, "skipped", now, outcome.skipped)


def _failed_attempt(session: Session, outcome: Outcome, now: datetime, max_attempts: int, rng) -> None:
    claim, error = outcome.claim, outcome.error
    if error.sent_contact_ids:
        _recipients(session, claim, error.sent_contact_ids, "sent", now)
    message = str(error) if error.status is None else f"{error.status}: {error}"
    if gives_up(claim.attempt, max_attempts, error.permanent):
        _attempt(session, claim, now, outcome="failed", error=message)
        _delivery(session, claim, state="failed", last_error=message)
        _recipients(session, claim, None, "failed", now)
        _notice(session, claim, "failed", now, message)
        return
    delay = retry_delay(claim.attempt, rng.random(), error.retry_after)
    _attempt(session, claim, now, outcome="retry", error=message)
    _delivery(session, claim, state="pending", next_attempt_at=now + delay, last_error=message)
