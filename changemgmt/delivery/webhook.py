"""SendGrid's delivery events (SPEC §6): what happened to each recipient's copy.

`apply_sendgrid_events` is what `POST /webhooks/sendgrid` calls after verifying the
signature. Each event is stored once (by `sg_event_id`, STANDARDS C34), correlated by
the `delivery_id` and `contact_id` we put in `custom_args` (C35), and moves the
recipient's state. A hard bounce suppresses the contact: it gets nothing more.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from changemgmt.domain.states import RecipientState
from changemgmt.store.models import Contact, DeliveryEvent, Recipient

# The recipient state each SendGrid event reports. The report is the last word, from
# whatever state the recipient is in: the events come in any order, and a copy of a
# send given up on may still arrive (the recipient machine in domain.states).
STATES = {
    "delivered": RecipientState.DELIVERED,
    "bounce": RecipientState.BOUNCED,
    "dropped": RecipientState.DROPPED,
    "deferred": RecipientState.DEFERRED,
}


def _event_id(event: dict) -> str:
    if event.get("sg_event_id"):
        return str(event["sg_event_id"])[:200]
    natural = [event.get(k) for k in ("sg_message_id", "event", "timestamp", "email")]
    return "natural-" + hashlib.sha256(json.dumps(natural, default=str).encode()).hexdigest()[:40]


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def apply_sendgrid_events(session: Session, events: Iterable[dict], now: datetime) -> Counter:
    """Records and applies a batch of webhook events; returns counts by outcome."""
    counts: Counter = Counter()
    for event in events:
        if not isinstance(event, dict) or "event" not in event:
            counts["malformed"] += 1
            continue
        event_id = _event_id(event)
        if session.scalar(select(DeliveryEvent.id).where(DeliveryEvent.provider_event_id == event_id)):
            counts["duplicate"] += 1
            continue
        delivery_id = _int(event.get("delivery_id"))
        session.add(
            DeliveryEvent(
                provider_event_id=event_id,
                received_at=now,
                event=str(event["event"])[:40],
                email=str(event.get("email", ""))[:254],
                delivery_id=delivery_id,
                payload=event,
            )
        )
        counts[_apply(session, event, delivery_id, now)] += 1
    session.flush()
    return counts


def _apply(session: Session, event: dict, delivery_id: int | None, now: datetime) -> str:
    kind = event["event"]
    state = STATES.get(kind)
    if state is None:
        return "recorded"
    contact_id = _int(event.get("contact_id"))
    if delivery_id is None or contact_id is None:
        return "uncorrelated"
    if kind == "bounce" and event.get("type", "bounce") == "bounce":
        session.execute(
            update(Contact).where(Contact.id == contact_id, Contact.suppressed_at.is_(None)).values(suppressed_at=now)
        )
    elif kind == "bounce":
        state = RecipientState.DEFERRED  # type=blocked: a temporary refusal, not a hard bounce
    session.execute(
        update(Recipient)
        .where(Recipient.delivery_id == delivery_id, Recipient.contact_id == contact_id)
        .values(state=state, updated_at=now)
    )
    return state
