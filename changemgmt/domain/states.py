"""The states of what goes out (SPEC §6), and the machines they follow: a notice, its
deliveries (one provider request each), each delivery's recipients, and the outcome of
each delivery attempt. Each machine's allowed transitions are one table here.

The values are what the database stores, as plain strings: a StrEnum member equals its
string, and binds and prints as it, so the enums need no data migration.

The code that changes a state names the transition it makes (the constants at the end,
each checked against its table when defined). The bulk writers do not check rows one by
one: which rows they may change is in their WHERE (`only=` the source state), and
tests/test_states.py checks that every state change they make is in the table. The
provider's reports (delivery.webhook) move a recipient from whatever state it is in,
as its table allows.
`None` as a current state is the state before: a row not written yet, or an attempt
still open (its outcome NULL).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from changemgmt.domain.errors import TransitionError


class NoticeState(enum.StrEnum):
    PENDING = "pending"  # waiting for its deliveries
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # made pointless: by a later change, or by the time it was claimed
    NO_RECIPIENT = "no_recipient"  # planned with no contact to send it to: settled at once


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a worker until claimed_until
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class RecipientState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"  # the provider took its copy
    SKIPPED = "skipped"  # left out: ineligible since planning, or the notice pointless when claimed
    FAILED = "failed"  # its delivery failed for good
    DELIVERED = "delivered"  # the states below are the provider's reports (SendGrid events)
    BOUNCED = "bounced"
    DROPPED = "dropped"
    DEFERRED = "deferred"


class AttemptOutcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # failed, to be tried again
    UNKNOWN = "unknown"  # sent, no answer came (the provider may have it): to be tried again
    FAILED = "failed"  # failed for good
    SKIPPED = "skipped"  # not sent: pointless, or nobody eligible
    ABANDONED = "abandoned"  # the worker's lease ran out before it finished


S = TypeVar("S", NoticeState, DeliveryState, RecipientState, AttemptOutcome)

_NOTICE: dict[NoticeState | None, frozenset[NoticeState]] = {
    None: frozenset({NoticeState.PENDING, NoticeState.NO_RECIPIENT}),
    NoticeState.PENDING: frozenset({NoticeState.SENT, NoticeState.FAILED, NoticeState.SKIPPED}),
    NoticeState.SENT: frozenset(),
    NoticeState.FAILED: frozenset({NoticeState.PENDING}),  # an operator's retry
    NoticeState.SKIPPED: frozenset(),
    NoticeState.NO_RECIPIENT: frozenset(),
}

_DELIVERY: dict[DeliveryState | None, frozenset[DeliveryState]] = {
    None: frozenset({DeliveryState.PENDING}),
    DeliveryState.PENDING: frozenset({DeliveryState.SENDING, DeliveryState.SKIPPED}),
    # back to pending: a retry, or a lease that ran out
    DeliveryState.SENDING: frozenset(
        {DeliveryState.SENT, DeliveryState.PENDING, DeliveryState.FAILED, DeliveryState.SKIPPED}
    ),
    DeliveryState.SENT: frozenset(),
    DeliveryState.FAILED: frozenset({DeliveryState.PENDING}),  # an operator's retry
    DeliveryState.SKIPPED: frozenset(),
}

# The provider's report is the last word whatever we recorded, and its events come in any
# order: a copy of a send given up on (or of an earlier attempt, to a contact skipped at
# the next) may still be delivered.
_REPORTED = frozenset(
    {RecipientState.DELIVERED, RecipientState.BOUNCED, RecipientState.DROPPED, RecipientState.DEFERRED}
)

_RECIPIENT: dict[RecipientState | None, frozenset[RecipientState]] = {
    None: frozenset({RecipientState.PENDING}),
    RecipientState.PENDING: frozenset({RecipientState.SENT, RecipientState.SKIPPED, RecipientState.FAILED}) | _REPORTED,
    RecipientState.SENT: _REPORTED,
    RecipientState.SKIPPED: _REPORTED,
    RecipientState.FAILED: _REPORTED | {RecipientState.PENDING},  # an operator's retry
    RecipientState.DELIVERED: _REPORTED,
    RecipientState.BOUNCED: _REPORTED,
    RecipientState.DROPPED: _REPORTED,
    RecipientState.DEFERRED: _REPORTED,
}

# An attempt is written open at the claim and gets one outcome, for good.
_ATTEMPT: dict[AttemptOutcome | None, frozenset[AttemptOutcome]] = {
    None: frozenset(AttemptOutcome),
    AttemptOutcome.SENT: frozenset(),
    AttemptOutcome.RETRY: frozenset(),
    AttemptOutcome.UNKNOWN: frozenset(),
    AttemptOutcome.FAILED: frozenset(),
    AttemptOutcome.SKIPPED: frozenset(),
    AttemptOutcome.ABANDONED: frozenset(),
}

# The moves only an operator makes (a retry): they do not make a failed notice or delivery unsettled.
_BY_OPERATOR: frozenset[tuple[Any, Any]] = frozenset(
    {(NoticeState.FAILED, NoticeState.PENDING), (DeliveryState.FAILED, DeliveryState.PENDING)}
)

_MACHINES: dict[type, Mapping[Any, frozenset[Any]]] = {
    NoticeState: _NOTICE,
    DeliveryState: _DELIVERY,
    RecipientState: _RECIPIENT,
    AttemptOutcome: _ATTEMPT,
}
_NAMES = {NoticeState: "notice", DeliveryState: "delivery", RecipientState: "recipient", AttemptOutcome: "attempt"}


def allowed_transitions(machine: type[S], current: S | None) -> frozenset[S]:
    """The states `current` may move to (`None`: those a new row may start in)."""
    table: Mapping[S | None, frozenset[S]] = _MACHINES[machine]
    return table[current]


def is_final(state: S) -> bool:
    """True for a state nothing moves out of by itself: a settled notice or delivery, an
    ended attempt. (A failed notice or delivery is settled too: only an operator's retry
    moves it on.)"""
    onward = {target for target in allowed_transitions(type(state), state) if (state, target) not in _BY_OPERATOR}
    return not onward


def check_transition(current: S | None, target: S) -> None:
    """Raises TransitionError unless `current -> target` is allowed in `target`'s machine."""
    machine = type(target)
    allowed = allowed_transitions(machine, current)
    if target in allowed:
        return
    name, options = _NAMES[machine], ", ".join(sorted(s.value for s in allowed))
    if current is None:
        raise TransitionError(f"{name} state", f"a new {name} cannot be {target.value}, only: {options}")
    if allowed:
        reason = f"a {current.value} {name} can only move to: {options}"
    else:
        reason = f"a {current.value} {name} is final"
    raise TransitionError(f"{name} state", f"cannot change {current.value} -> {target.value}: {reason}")


@dataclass(frozen=True)
class Transition(Generic[S]):
    """One transition the code makes, `source -> target`; refused at import if the table
    does not allow it."""

    source: S | None
    target: S

    def __post_init__(self) -> None:
        check_transition(self.source, self.target)


# Planning writes a notice, its deliveries and their recipients (planning.writes).
NOTICE_PLANNED = Transition(None, NoticeState.PENDING)
NOTICE_WITHOUT_RECIPIENT = Transition(None, NoticeState.NO_RECIPIENT)
DELIVERY_PLANNED = Transition(None, DeliveryState.PENDING)
RECIPIENT_PLANNED = Transition(None, RecipientState.PENDING)

# A later change makes a pending notice pointless (planning.writes.skip_notices).
NOTICE_SKIPPED = Transition(NoticeState.PENDING, NoticeState.SKIPPED)
DELIVERY_SUPERSEDED = Transition(DeliveryState.PENDING, DeliveryState.SKIPPED)

# The worker claims due deliveries, and takes back those whose lease ran out (delivery.claim).
DELIVERY_CLAIMED = Transition(DeliveryState.PENDING, DeliveryState.SENDING)
DELIVERY_LEASE_EXPIRED = Transition(DeliveryState.SENDING, DeliveryState.PENDING)
# A stopping worker puts back what it claimed and never sent (its attempt is not counted).
DELIVERY_PUT_BACK = Transition(DeliveryState.SENDING, DeliveryState.PENDING)
ATTEMPT_ABANDONED = Transition(None, AttemptOutcome.ABANDONED)

# The outcome of a claimed delivery (delivery.outcomes).
DELIVERY_SENT = Transition(DeliveryState.SENDING, DeliveryState.SENT)
DELIVERY_RETRIED = Transition(DeliveryState.SENDING, DeliveryState.PENDING)
DELIVERY_FAILED = Transition(DeliveryState.SENDING, DeliveryState.FAILED)
DELIVERY_SKIPPED = Transition(DeliveryState.SENDING, DeliveryState.SKIPPED)
# Claimed, never tried (sending paused by the breaker): due again, its attempt row removed.
DELIVERY_HELD_BACK = Transition(DeliveryState.SENDING, DeliveryState.PENDING)
ATTEMPT_SENT = Transition(None, AttemptOutcome.SENT)
ATTEMPT_RETRY = Transition(None, AttemptOutcome.RETRY)
ATTEMPT_UNKNOWN = Transition(None, AttemptOutcome.UNKNOWN)
ATTEMPT_FAILED = Transition(None, AttemptOutcome.FAILED)
ATTEMPT_SKIPPED = Transition(None, AttemptOutcome.SKIPPED)
NOTICE_SENT = Transition(NoticeState.PENDING, NoticeState.SENT)
NOTICE_FAILED = Transition(NoticeState.PENDING, NoticeState.FAILED)
# NOTICE_SKIPPED too, when the notice is pointless by the time it is claimed
RECIPIENT_SENT = Transition(RecipientState.PENDING, RecipientState.SENT)
RECIPIENT_SKIPPED = Transition(RecipientState.PENDING, RecipientState.SKIPPED)
RECIPIENT_FAILED = Transition(RecipientState.PENDING, RecipientState.FAILED)
# A recipient refused alone (an address we cannot write, or one the provider refuses).
RECIPIENT_REFUSED = Transition(RecipientState.PENDING, RecipientState.FAILED)

# An operator retries a failed delivery (`changemgmt deliveries retry`, delivery.operations):
# it is due again, with its notice and the recipients that had not received it.
DELIVERY_RETRIED_BY_OPERATOR = Transition(DeliveryState.FAILED, DeliveryState.PENDING)
NOTICE_RETRIED_BY_OPERATOR = Transition(NoticeState.FAILED, NoticeState.PENDING)
RECIPIENT_RETRIED_BY_OPERATOR = Transition(RecipientState.FAILED, RecipientState.PENDING)
