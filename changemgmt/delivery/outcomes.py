"""Recording what became of each claimed delivery: sent, to be retried, failed for good,
skipped, or held back untried (sending paused by the breaker: its attempt row goes, as no
try was made). One transaction per batch and a handful of statements per batch, whatever
its size: each statement runs once with the rows of every delivery it concerns.

A delivery is failed for good on a permanent error, or when it has been tried for longer
than its time budget (DELIVERY_GIVE_UP_AFTER, from its first attempt). Recipients refused
alone (an address no message can carry, or one the provider refused) fail with their
reason in `recipients.error`, whatever becomes of the delivery; the others' outcomes stand.

Each outcome makes the transitions of domain.states named below: a claimed delivery
leaves `sending`, its notice and recipients leave `pending` (a statement changes only
the rows still in the source state), and its open attempt gets its outcome.

A failed attempt, a delivery failed for good, and a refused recipient are each logged as
one line with the delivery, its GCR and customer account, the error and the next try (as `extra` fields:
keys of their own in JSON logs). The GCR numbers and accounts are looked up only for the
failures, in one query per batch: a batch that sends without fault costs nothing more."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, bindparam, delete, select
from sqlalchemy.orm import Session

from changemgmt.delivery.claim import Claim
from changemgmt.delivery.transports.base import SendError
from changemgmt.domain.retry import gives_up, retry_delay
from changemgmt.domain.states import (
    ATTEMPT_FAILED,
    ATTEMPT_RETRY,
    ATTEMPT_SENT,
    ATTEMPT_SKIPPED,
    ATTEMPT_UNKNOWN,
    DELIVERY_FAILED,
    DELIVERY_HELD_BACK,
    DELIVERY_RETRIED,
    DELIVERY_SENT,
    DELIVERY_SKIPPED,
    NOTICE_FAILED,
    NOTICE_SENT,
    NOTICE_SKIPPED,
    RECIPIENT_FAILED,
    RECIPIENT_REFUSED,
    RECIPIENT_SENT,
    RECIPIENT_SKIPPED,
    AttemptOutcome,
    NoticeState,
    RecipientState,
    Transition,
)
from changemgmt.store.bulk import among, update_rows
from changemgmt.store.db import pipelined
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
    refused: Mapping[int, str] = field(default_factory=dict)  # contact id -> why it failed alone


def record_outcomes(
    session: Session, outcomes: list[Outcome], now: datetime, give_up_after: timedelta, rng: random.Random
) -> None:
    rows = _Rows()
    first_tries = _first_tries(session, [o for o in outcomes if _retryable(o.error)])
    for outcome in outcomes:  # in order: the retry jitter is drawn in this order
        rows.refuse(outcome)
        if outcome.skipped:
            rows.skipped(outcome)
        elif outcome.error is None:
            rows.sent(outcome)
        elif not outcome.error.tried:
            rows.held_back(outcome.claim, outcome.error, now)
        else:
            first_try = first_tries.get(outcome.claim.delivery_id)
            final = gives_up(outcome.error.permanent, first_try, now, give_up_after)
            rows.failed_attempt(outcome.claim, outcome.error, now, final, rng)
    # The writes go out together, their answers awaited once: a round trip per statement,
    # each waiting for this process's GIL as it came back, held the recorder (and the
    # send permits of the outcomes it holds) 15 ms a batch (bench/fanout.py).
    with pipelined(session):
        rows.write(session, now)
    if rows.failures:
        log_failures(session, rows.failures)


def _retryable(error: SendError | None) -> bool:
    return error is not None and error.tried and not error.permanent


def _first_tries(session: Session, outcomes: list[Outcome]) -> dict[int, datetime]:
    """When each of these deliveries was first tried since an operator last retried it
    (its budget runs from then)."""
    if not outcomes:
        return {}
    attempts = ATTEMPTS.c
    counted_from = {o.claim.delivery_id: o.claim.attempt - o.claim.attempts_counted for o in outcomes}
    found = session.execute(
        select(attempts.delivery_id, attempts.number, attempts.started_at).where(
            among(attempts.delivery_id, list(counted_from))
        )
    )
    first: dict[int, datetime] = {}
    for delivery_id, number, started in found:
        if number > counted_from[delivery_id] and (delivery_id not in first or started < first[delivery_id]):
            first[delivery_id] = started
    return first


@dataclass(frozen=True)
class Failure:
    """A failed attempt, as logged: `next_try` is None when the delivery failed for good."""

    claim: Claim
    error: str
    next_try: datetime | None
    permanent: bool
    contact_id: int | None = None  # a recipient refused alone


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
    if failure.contact_id is not None:
        extra = {"event": "recipient_refused", **fields, "contact_id": failure.contact_id}
        log.error("%s: contact %s fails alone: %s", said, failure.contact_id, failure.error, extra=extra)
    elif failure.next_try is None:
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
    held_attempts: list[dict] = field(default_factory=list)  # open attempts of untried deliveries: removed
    held_deliveries: list[dict] = field(default_factory=list)
    refused_recipients: list[dict] = field(default_factory=list)
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

    def refuse(self, outcome: Outcome) -> None:
        """The recipients refused alone, by composing or by the provider."""
        refused = {**outcome.refused, **(outcome.error.refused if outcome.error is not None else {})}
        for contact_id, reason in refused.items():
            self.refused_recipients.append(
                {"delivery_id": outcome.claim.delivery_id, "contact_id": contact_id, "error": reason}
            )
            self.failures.append(Failure(outcome.claim, reason, None, True, contact_id))

    def held_back(self, claim: Claim, error: SendError, now: datetime) -> None:
        """Never tried: due again when sending resumes, as if never claimed."""
        self.held_attempts.append({"m_delivery_id": claim.delivery_id, "m_number": claim.attempt})
        wait = timedelta(seconds=error.retry_after or 0.0)
        self.held_deliveries.append(
            {"id": claim.delivery_id, "attempts": claim.attempt - 1, "next_attempt_at": now + wait}
        )

    def skipped(self, outcome: Outcome) -> None:
        claim, reason = outcome.claim, outcome.skipped
        self._attempt(claim, ATTEMPT_SKIPPED, reason)
        self.settled_deliveries.append(
            {"id": claim.delivery_id, "state": DELIVERY_SKIPPED.target, "last_error": reason}
        )
        self.other_recipients.append({"delivery_id": claim.delivery_id, "state": RECIPIENT_SKIPPED.target})
        self._notice(claim, NOTICE_SKIPPED, reason)

    def failed_attempt(self, claim: Claim, error: SendError, now: datetime, final: bool, rng: random.Random) -> None:
        self._recipients(claim, error.sent_contact_ids)
        message = str(error) if error.status is None else f"{error.status}: {error}"
        if final:
            self._attempt(claim, ATTEMPT_FAILED, message)
            self.settled_deliveries.append(
                {"id": claim.delivery_id, "state": DELIVERY_FAILED.target, "last_error": message}
            )
            self.other_recipients.append({"delivery_id": claim.delivery_id, "state": RECIPIENT_FAILED.target})
            self._notice(claim, NOTICE_FAILED, message)
            self.failures.append(Failure(claim, message, None, error.permanent))
            return
        delay = retry_delay(claim.attempts_counted, rng.random(), error.retry_after, error.unknown)
        self._attempt(claim, ATTEMPT_UNKNOWN if error.unknown else ATTEMPT_RETRY, message)
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
            (DELIVERIES, self.held_deliveries, ("id",), {}, {**released, "state": DELIVERY_HELD_BACK.target}),
            (
                RECIPIENTS,
                self.refused_recipients,
                ("delivery_id", "contact_id"),
                waiting,
                {"state": RECIPIENT_REFUSED.target, "updated_at": now},
            ),
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
        if self.held_attempts:
            attempts = ATTEMPTS.c
            session.execute(
                delete(ATTEMPTS).where(
                    and_(
                        attempts.delivery_id == bindparam("m_delivery_id"),
                        attempts.number == bindparam("m_number"),
                        attempts.outcome.is_(None),
                    )
                ),
                self.held_attempts,
            )


def _first_per_notice(rows: list[dict]) -> list[dict]:
    """Deliveries may share a notice: its first outcome in the batch settles it."""
    first: dict[int, dict] = {}
    for row in rows:
        first.setdefault(row["id"], row)
    return list(first.values())
