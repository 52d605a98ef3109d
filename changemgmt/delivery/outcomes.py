"""Recording what became of each claimed delivery: sent, to be retried, failed for good,
or skipped. One transaction per batch and a handful of statements per batch, whatever
its size: each statement runs once with the rows of every delivery it concerns.

Each outcome makes the transitions of domain.states named below: a claimed delivery
leaves `sending`, its notice and recipients leave `pending` (a statement changes only
the rows still in the source state), and its open attempt gets its outcome.

A failed attempt, and a delivery failed for good, are each logged as one line with the
delivery, its GCR and customer account, the error and the next try (as `extra` fields:
keys of their own in JSON logs). The GCR numbers and accounts are looked up only for the
failures, in one query per batch: a batch that sends without fault costs nothing more."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from changemgmt.delivery.claim import Claim
from changemgmt.delivery.transports.base import SendError
from changemgmt.domain.retry import gives_up, retry_delay
from changemgmt.domain.states import (
    ATTEMPT_FAILED,
    ATTEMPT_RETRY,
    ATTEMPT_SENT,
    ATTEMPT_SKIPPED,
    DELIVERY_FAILED,
    DELIVERY_RETRIED,
    DELIVERY_SENT,
    DELIVERY_SKIPPED,
    NOTICE_FAILED,
    NOTICE_SENT,
    NOTICE_SKIPPED,
    RECIPIENT_FAILED,
    RECIPIENT_SENT,
    RECIPIENT_SKIPPED,
    AttemptOutcome,
    NoticeState,
    RecipientState,
    Transition,
)
from changemgmt.store.bulk import among, update_rows
from changemgmt.store.models import Customer, Delivery, DeliveryAttempt, Gcr, Notice, Recipient

log = logging.getLogger(__name__)

ATTEMPTS, DELIVERIES = DeliveryAttempt.__table__, Delivery.__table__
NOTICES, RECIPIENTS = Notice.__table__, Recipient.__table__


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    provider_message_id: str | None = None
    contact_ids: tuple[int, ...] = ()
    error: SendError | None = None
    skipped: str | None = None


def record_outcomes(
    session: Session, outcomes: list[Outcome], now: datetime, max_attempts: int, rng: random.Random
) -> None:
    rows = _Rows()
    for outcome in outcomes:  # in order: the retry jitter is drawn in this order
        if outcome.skipped:
            rows.skipped(outcome)
        elif outcome.error is None:
            rows.sent(outcome)
        else:
            rows.failed_attempt(outcome.claim, outcome.error, now, max_attempts, rng)
    rows.write(session, now)
    if rows.failures:
        log_failures(session, rows.failures)


@dataclass(frozen=True)
class Failure:
    """A failed attempt, as logged: `next_try` is None when the delivery failed for good."""

    claim: Claim
    error: str
    next_try: datetime | None
    permanent: bool


def log_failures(session: Session, failures: list[Failure]) -> None:
    """One line per failure, naming its GCR and customer account (looked up together)."""
    notices, gcrs, customers = NOTICES.c, Gcr.__table__.c, Customer.__table__.c
    found = session.execute(
        select(notices.id, gcrs.number, customers.account)
        .join_from(Notice.__table__, Gcr.__table__, gcrs.id == notices.gcr_id)
        .join(Customer.__table__, customers.id == notices.customer_id)
        .where(among(notices.id, {f.claim.notice_id for f in failures}))
    )
    about = {notice_id: (number, account) for notice_id, number, account in found}
    for failure in failures:
        _log_failure(failure, *about.get(failure.claim.notice_id, ("?", "?")))


def _log_failure(failure: Failure, gcr: str, account: str) -> None:
    claim = failure.claim
    fields = {
        "delivery_id": claim.delivery_id,
        "notice_id": claim.notice_id,
        "gcr": gcr,
        "account": account,
        "attempt": claim.attempt,
        "error": failure.error,
    }
    said = f"delivery {claim.delivery_id} ({gcr} to {account})"
    if failure.next_try is None:
        why = "a permanent error" if failure.permanent else "its last attempt"
        extra = {"event": "delivery_failed", **fields, "permanent": failure.permanent}
        log.error("%s failed for good after %s (attempt %s): %s", said, why, claim.attempt, failure.error, extra=extra)
    else:
        next_try = failure.next_try.isoformat()
        extra = {"event": "delivery_attempt_failed", **fields, "next_try": next_try}
        log.warning(
            "%s attempt %s failed: %s; next try at %s", said, claim.attempt, failure.error, next_try, extra=extra
        )


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
    failures: list[Failure] = field(default_factory=list)  # to be logged

    def sent(self, outcome: Outcome) -> None:
        claim, message_id = outcome.claim, outcome.provider_message_id
        self.sent_attempts.append(
            {"delivery_id": claim.delivery_id, "number": claim.attempt, "provider_message_id": message_id}
        )
        self.sent_deliveries.append({"id": claim.delivery_id, "provider_message_id": message_id})
        self._recipients(claim, outcome.contact_ids)
        self.other_recipients.append(
            {"delivery_id": claim.delivery_id, "state": RECIPIENT_SKIPPED.target}
        )  # ineligible since
        self._notice(claim, NOTICE_SENT, None)

    def skipped(self, outcome: Outcome) -> None:
        claim, reason = outcome.claim, outcome.skipped
        self._attempt(claim, ATTEMPT_SKIPPED, reason)
        self.settled_deliveries.append(
            {"id": claim.delivery_id, "state": DELIVERY_SKIPPED.target, "last_error": reason}
        )
        self.other_recipients.append({"delivery_id": claim.delivery_id, "state": RECIPIENT_SKIPPED.target})
        self._notice(claim, NOTICE_SKIPPED, reason)

    def failed_attempt(
        self, claim: Claim, error: SendError, now: datetime, max_attempts: int, rng: random.Random
    ) -> None:
        self._recipients(claim, error.sent_contact_ids)
        message = str(error) if error.status is None else f"{error.status}: {error}"
        if gives_up(claim.attempts_counted, max_attempts, error.permanent):
            self._attempt(claim, ATTEMPT_FAILED, message)
            self.settled_deliveries.append(
                {"id": claim.delivery_id, "state": DELIVERY_FAILED.target, "last_error": message}
            )
            self.other_recipients.append({"delivery_id": claim.delivery_id, "state": RECIPIENT_FAILED.target})
            self._notice(claim, NOTICE_FAILED, message)
            self.failures.append(Failure(claim, message, None, error.permanent))
            return
        delay = retry_delay(claim.attempts_counted, rng.random(), error.retry_after)
        self._attempt(claim, ATTEMPT_RETRY, message)
        self.retried_deliveries.append({"id": claim.delivery_id, "next_attempt_at": now + delay, "last_error": message})
        self.failures.append(Failure(claim, message, now + delay, error.permanent))

    def _attempt(self, claim: Claim, ended: Transition[AttemptOutcome], error: str | None) -> None:
        self.other_attempts.append(
            {"delivery_id": claim.delivery_id, "number": claim.attempt, "outcome": ended.target, "error": error}
        )

    def _recipients(self, claim: Claim, contact_ids: Iterable[int]) -> None:
        self.sent_recipients += [{"delivery_id": claim.delivery_id, "contact_id": c} for c in contact_ids]

    def _notice(self, claim: Claim, settled: Transition[NoticeState], reason: str | None) -> None:
        self.notices.append({"id": claim.notice_id, "state": settled.target, "skip_reason": reason})

    def write(self, session: Session, now: datetime) -> None:
        released = {"claimed_until": None, "claimed_by": None}
        # The source of every RECIPIENT_* and NOTICE_* transition: a row that left it stays
        # as it is (a recipient the provider has already reported on, a notice settled).
        waiting, unsettled = {"state": RecipientState.PENDING}, {"state": NoticeState.PENDING}
        writes: list[tuple[Table, list[dict], tuple[str, ...], Mapping[str, object], Mapping[str, object]]] = [
            (
                ATTEMPTS,
                self.sent_attempts,
                ("delivery_id", "number"),
                {},
                {"finished_at": now, "outcome": ATTEMPT_SENT.target},
            ),
            (ATTEMPTS, self.other_attempts, ("delivery_id", "number"), {}, {"finished_at": now}),
            (
                DELIVERIES,
                self.sent_deliveries,
                ("id",),
                {},
                {**released, "state": DELIVERY_SENT.target, "sent_at": now, "last_error": None},
            ),
            (DELIVERIES, self.settled_deliveries, ("id",), {}, released),
            (DELIVERIES, self.retried_deliveries, ("id",), {}, {**released, "state": DELIVERY_RETRIED.target}),
            (
                RECIPIENTS,
                self.sent_recipients,
                ("delivery_id", "contact_id"),
                waiting,
                {"state": RECIPIENT_SENT.target, "updated_at": now},
            ),
            (RECIPIENTS, self.other_recipients, ("delivery_id",), waiting, {"updated_at": now}),
            (NOTICES, _first_per_notice(self.notices), ("id",), unsettled, {"settled_at": now}),
        ]
        for table, rows, match, only, constants in writes:
            update_rows(session, table, rows, match=match, only=only, constants=constants)


def _first_per_notice(rows: list[dict]) -> list[dict]:
    """Deliveries may share a notice: its first outcome in the batch settles it."""
    first: dict[int, dict] = {}
    for row in rows:
        first.setdefault(row["id"], row)
    return list(first.values())
