"""The machines of notices, deliveries, recipients and attempts (domain.states): every
allowed and every refused transition, and every state change the writers make, checked
against the table on a real database."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from changemgmt.delivery.claim import claim_due, rescue_expired
from changemgmt.delivery.operations import retry_deliveries
from changemgmt.delivery.outcomes import Outcome, record_outcomes
from changemgmt.delivery.transports.base import SendError
from changemgmt.delivery.webhook import apply_sendgrid_events
from changemgmt.domain import states
from changemgmt.domain.errors import TransitionError
from changemgmt.domain.states import (
    AttemptOutcome,
    DeliveryState,
    NoticeState,
    RecipientState,
    Transition,
    allowed_transitions,
    check_transition,
    is_final,
)
from changemgmt.domain.status import Status
from changemgmt.store import models
from changemgmt.store.db import transaction

N, D, R, A = NoticeState, DeliveryState, RecipientState, AttemptOutcome
REPORTED = {R.DELIVERED, R.BOUNCED, R.DROPPED, R.DEFERRED}

ALLOWED = {
    NoticeState: {
        (None, N.PENDING),
        (None, N.NO_RECIPIENT),
        (N.PENDING, N.SENT),
        (N.PENDING, N.FAILED),
        (N.PENDING, N.SKIPPED),
        (N.FAILED, N.PENDING),  # an operator's retry
    },
    DeliveryState: {
        (None, D.PENDING),
        (D.PENDING, D.SENDING),
        (D.PENDING, D.SKIPPED),
        (D.SENDING, D.SENT),
        (D.SENDING, D.PENDING),
        (D.SENDING, D.FAILED),
        (D.SENDING, D.SKIPPED),
        (D.FAILED, D.PENDING),  # an operator's retry
    },
    # the provider's report wins from any state (its events come in any order)
    RecipientState: {
        (None, R.PENDING),
        (R.PENDING, R.SENT),
        (R.PENDING, R.SKIPPED),
        (R.PENDING, R.FAILED),
        (R.FAILED, R.PENDING),  # an operator's retry
    }
    | {(current, report) for current in RecipientState for report in REPORTED},
    AttemptOutcome: {(None, outcome) for outcome in AttemptOutcome},  # an open attempt ends once
}
EVERY_PAIR = [(machine, current, target) for machine in ALLOWED for current in (None, *machine) for target in machine]
ALLOWED_PAIRS = [(m, c, t) for m, c, t in EVERY_PAIR if (c, t) in ALLOWED[m]]
REFUSED_PAIRS = [(m, c, t) for m, c, t in EVERY_PAIR if (c, t) not in ALLOWED[m]]
NAMES = {NoticeState: "notice", DeliveryState: "delivery", RecipientState: "recipient", AttemptOutcome: "attempt"}


def _id(pair) -> str:
    machine, current, target = pair
    return f"{NAMES[machine]}:{current}->{target}"


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=map(_id, ALLOWED_PAIRS))
def test_it_allows_each_transition_of_the_table(pair):
    machine, current, target = pair
    check_transition(current, target)
    assert target in allowed_transitions(machine, current)


@pytest.mark.parametrize("pair", REFUSED_PAIRS, ids=map(_id, REFUSED_PAIRS))
def test_it_refuses_every_other_transition_naming_the_machine_and_the_states(pair):
    machine, current, target = pair
    with pytest.raises(TransitionError) as error:
        check_transition(current, target)
    assert error.value.field == f"{NAMES[machine]} state"
    expected = f"a new {NAMES[machine]} cannot be {target}" if current is None else f"{current} -> {target}"
    assert expected in str(error.value)
    assert target not in allowed_transitions(machine, current)


def test_the_values_are_the_strings_the_database_holds():
    assert [s.value for s in NoticeState] == ["pending", "sent", "failed", "skipped", "no_recipient"]
    assert [s.value for s in DeliveryState] == ["pending", "sending", "sent", "failed", "skipped"]
    assert [s.value for s in RecipientState] == [
        "pending",
        "sent",
        "skipped",
        "failed",
        "delivered",
        "bounced",
        "dropped",
        "deferred",
    ]
    assert [s.value for s in AttemptOutcome] == ["sent", "retry", "unknown", "failed", "skipped", "abandoned"]
    assert DeliveryState.PENDING == "pending" and f"{DeliveryState.SENDING}" == "sending"


def test_settled_notices_and_deliveries_and_ended_attempts_are_final():
    assert {s for s in NoticeState if is_final(s)} == {N.SENT, N.FAILED, N.SKIPPED, N.NO_RECIPIENT}
    assert {s for s in DeliveryState if is_final(s)} == {D.SENT, D.FAILED, D.SKIPPED}
    assert {s for s in AttemptOutcome if is_final(s)} == set(AttemptOutcome)
    assert {s for s in RecipientState if is_final(s)} == set()
    with pytest.raises(TransitionError, match="a sent delivery is final"):
        check_transition(D.SENT, D.PENDING)
    # a failed one is settled: only an operator's retry moves it on
    with pytest.raises(TransitionError, match="a failed delivery can only move to: pending"):
        check_transition(D.FAILED, D.SENT)


def test_a_named_transition_that_the_table_refuses_cannot_be_defined():
    with pytest.raises(TransitionError, match="sent -> pending"):
        Transition(D.SENT, D.PENDING)


# The writers on a real database -------------------------------------------------------

GCR = {
    "number": "GCR-6101",
    "title": "Fibre splice",
    "description": "Splicing fibre.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}, {"service": "INIT-ETH-9"}],
}
COLUMNS = {
    NoticeState: models.Notice.state,
    DeliveryState: models.Delivery.state,
    RecipientState: models.Recipient.state,
    AttemptOutcome: models.DeliveryAttempt.outcome,
}
NAMED = {name: value for name, value in vars(states).items() if isinstance(value, Transition)}


def _snapshot(db) -> dict:
    """Every row's state by (machine, id); an attempt is None while open."""
    with db() as session:
        return {
            (machine, row_id): state
            for machine, column in COLUMNS.items()
            for row_id, state in session.execute(select(column.class_.id, column))
        }


def _moves(db, before: dict) -> tuple[dict, set]:
    """The transitions made since `before` (a new row moves from None), each checked
    against the table; and the new snapshot."""
    after = _snapshot(db)
    moves = set()
    for (machine, row_id), state in after.items():
        previous = before.get((machine, row_id))
        if previous != state:
            current, target = (None if previous is None else machine(previous)), machine(state)
            check_transition(current, target)
            moves.add((machine, current, target))
    return after, moves


def _key(transition: Transition) -> tuple:
    return type(transition.target), transition.source, transition.target


def _expect(*transitions: Transition) -> set:
    return {_key(t) for t in transitions}


def _claims(engine, clock, limit: int = 10):
    return claim_due(engine, now=clock(), limit=limit, lease=timedelta(minutes=5), worker="w")


def _record(db, clock, settings, outcomes: list[Outcome]) -> None:
    with db.begin() as session:
        record_outcomes(session, outcomes, clock(), settings.give_up_after, random.Random(1))


def _recipients_by_delivery(db) -> dict[int, list[int]]:
    with db() as session:
        rows = session.execute(
            select(models.Recipient.delivery_id, models.Recipient.contact_id).order_by(models.Recipient.id)
        )
        grouped: dict[int, list[int]] = {}
        for delivery_id, contact_id in rows:
            grouped.setdefault(delivery_id, []).append(contact_id)
        return grouped


def test_every_state_change_of_planning_claims_outcomes_and_events_is_a_named_transition_of_the_table(
    desk, db, engine, settings, clock
):
    with transaction(db) as session:  # Initech hears nothing: a notice without recipient
        session.execute(
            models.Contact.__table__.update()
            .where(models.Contact.email == "noc@initech.example")
            .values(unsubscribed_at=clock())
        )
    seen: set = set()

    def step(action, *expected: Transition, reports: set = frozenset()) -> None:
        nonlocal snapshot
        action()
        snapshot, moves = _moves(db, snapshot)
        assert moves == _expect(*expected) | reports
        seen.update(moves)

    snapshot = _snapshot(db)
    step(
        lambda: desk.publish(GCR),
        states.NOTICE_PLANNED,
        states.NOTICE_WITHOUT_RECIPIENT,
        states.DELIVERY_PLANNED,
        states.RECIPIENT_PLANNED,
    )

    claims: list = []
    step(lambda: claims.extend(_claims(engine, clock)), states.DELIVERY_CLAIMED)
    recipients = _recipients_by_delivery(db)
    two, one = sorted(claims, key=lambda c: -len(recipients[c.delivery_id]))  # Acme's two contacts, Globex's one
    step(
        lambda: _record(
            db,
            clock,
            settings,
            [
                Outcome(two, provider_message_id="m-1", contact_ids=tuple(recipients[two.delivery_id][:1])),
                Outcome(one, error=SendError("busy", permanent=False, status=500)),
            ],
        ),
        states.DELIVERY_SENT,
        states.NOTICE_SENT,
        states.ATTEMPT_SENT,
        states.RECIPIENT_SENT,
        states.RECIPIENT_SKIPPED,
        states.DELIVERY_RETRIED,
        states.ATTEMPT_RETRY,
    )

    clock.advance(hours=2)
    claims.clear()
    step(lambda: claims.extend(_claims(engine, clock)), states.DELIVERY_CLAIMED)
    step(
        lambda: _record(db, clock, settings, [Outcome(claims[0], error=SendError("bad", permanent=True, status=400))]),
        states.DELIVERY_FAILED,
        states.NOTICE_FAILED,
        states.RECIPIENT_FAILED,
        states.ATTEMPT_FAILED,
    )
    failed = claims[0].delivery_id
    step(
        lambda: _retry(db, clock, failed),
        states.DELIVERY_RETRIED_BY_OPERATOR,
        states.NOTICE_RETRIED_BY_OPERATOR,
        states.RECIPIENT_RETRIED_BY_OPERATOR,
    )
    claims.clear()
    step(lambda: claims.extend(_claims(engine, clock)), states.DELIVERY_CLAIMED)
    step(
        lambda: _record(db, clock, settings, [Outcome(claims[0], error=SendError("bad", permanent=True, status=400))]),
        states.DELIVERY_FAILED,
        states.NOTICE_FAILED,
        states.RECIPIENT_FAILED,
        states.ATTEMPT_FAILED,
    )

    moved = {"windows": [{"number": 1, "start": "2026-12-02T07:00Z", "end": "2026-12-02T11:00Z"}]}
    step(
        lambda: desk.update("GCR-6101", moved), states.NOTICE_PLANNED, states.DELIVERY_PLANNED, states.RECIPIENT_PLANNED
    )
    step(lambda: _claims(engine, clock), states.DELIVERY_CLAIMED)
    clock.advance(minutes=6)
    step(lambda: rescue_expired(engine, now=clock()), states.DELIVERY_LEASE_EXPIRED, states.ATTEMPT_ABANDONED)
    claims.clear()
    step(lambda: claims.extend(_claims(engine, clock)), states.DELIVERY_CLAIMED)
    step(
        lambda: _record(db, clock, settings, [Outcome(c, skipped="its window moved") for c in claims]),
        states.DELIVERY_SKIPPED,
        states.NOTICE_SKIPPED,
        states.RECIPIENT_SKIPPED,
        states.ATTEMPT_SKIPPED,
    )

    moved = {"windows": [{"number": 1, "start": "2026-12-03T07:00Z", "end": "2026-12-03T11:00Z"}]}
    step(
        lambda: desk.update("GCR-6101", moved), states.NOTICE_PLANNED, states.DELIVERY_PLANNED, states.RECIPIENT_PLANNED
    )
    step(
        lambda: desk.status("GCR-6101", Status.CANCELLED),
        states.NOTICE_SKIPPED,
        states.DELIVERY_SUPERSEDED,
        states.NOTICE_PLANNED,
        states.DELIVERY_PLANNED,
        states.RECIPIENT_PLANNED,
    )

    # Sending paused (the breaker): held back untried, then sent with no answer, then
    # refused by the provider for a recipient's sake.
    claims.clear()
    step(lambda: claims.extend(_claims(engine, clock)), states.DELIVERY_CLAIMED)
    held = SendError("paused", permanent=False, tried=False, retry_after=5)
    step(lambda: _record(db, clock, settings, [Outcome(c, error=held) for c in claims]), states.DELIVERY_HELD_BACK)
    clock.advance(seconds=5)
    claims.clear()
    step(lambda: claims.extend(_claims(engine, clock)), states.DELIVERY_CLAIMED)
    lost = SendError("no answer", permanent=False, unknown=True, outage=True)
    step(
        lambda: _record(db, clock, settings, [Outcome(c, error=lost) for c in claims]),
        states.DELIVERY_RETRIED,
        states.ATTEMPT_UNKNOWN,
    )
    clock.advance(minutes=3)
    claims.clear()
    step(lambda: claims.extend(_claims(engine, clock)), states.DELIVERY_CLAIMED)
    refused = _recipients_by_delivery(db)
    step(
        lambda: _record(
            db,
            clock,
            settings,
            [
                Outcome(c, error=SendError("400", permanent=True, refused={refused[c.delivery_id][0]: "no such user"}))
                for c in claims
            ],
        ),
        states.DELIVERY_FAILED,
        states.NOTICE_FAILED,
        states.ATTEMPT_FAILED,
        states.RECIPIENT_REFUSED,
    )

    sent = {"delivery_id": str(two.delivery_id), "contact_id": str(recipients[two.delivery_id][0])}
    step(
        lambda: _events(db, clock, [{"event": "delivered", "sg_event_id": "e1", **sent}]),
        reports={(R, R.SENT, R.DELIVERED)},
    )
    # A delay reported after the copy was delivered changes nothing (its events apply in
    # the order they happened, and a delay never replaces how a copy ended) ...
    step(lambda: _events(db, clock, [{"event": "bounce", "type": "blocked", "sg_event_id": "e2", **sent}]))
    # ... while a later report of how it ended does.
    step(
        lambda: _events(db, clock, [{"event": "dropped", "sg_event_id": "e3", **sent}]),
        reports={(R, R.DELIVERED, R.DROPPED)},
    )

    assert {_key(t) for t in NAMED.values()} <= seen  # every named transition was made, and checked


def _retry(db, clock, delivery_id: int) -> None:
    with transaction(db) as session:
        retry_deliveries(session, [delivery_id], now=clock())


def _events(db, clock, events: list[dict]) -> None:
    with transaction(db) as session:
        apply_sendgrid_events(session, events, clock())
