"""SendGrid's delivery events (SPEC §6): what happened to each recipient's copy.

`POST /webhooks/sendgrid` verifies the signature (delivery.signatures), takes the signed
request once (`take_receipt`: the same signed request again is a replay), then calls
`apply_sendgrid_events`. Each event is stored once (by `sg_event_id`, STANDARDS C34),
correlated by the `delivery_id` and `contact_id` we put in `custom_args` (C35), and moves
the recipient's state in the order the events happened (domain.provider_events: a late
`deferred` never replaces `delivered`). An event naming a delivery we do not have is
stored and ignored, not a failure of the batch. A hard bounce suppresses the contact whose
address the event names, if that address is the delivery's recipient's: it gets nothing
more.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from changemgmt.domain.provider_events import report_applies
from changemgmt.domain.states import RecipientState
from changemgmt.store.bulk import insert_rows
from changemgmt.store.models import Contact, Delivery, DeliveryEvent, Recipient, WebhookReceipt

# The recipient state each SendGrid event reports. Other events (processed, open, click...)
# are stored and change nothing.
STATES = {
    "delivered": RecipientState.DELIVERED,
    "bounce": RecipientState.BOUNCED,
    "dropped": RecipientState.DROPPED,
    "deferred": RecipientState.DEFERRED,
}


def take_receipt(session: Session, signature: str, signed_at: datetime, now: datetime, keep: timedelta) -> bool:
    """Records a verified signed request; False when it was taken before (a replay).
    Receipts are kept for `keep` (the timestamps accepted): an older request is refused by
    its timestamp, so its receipt is no longer needed."""
    session.execute(delete(WebhookReceipt).where(WebhookReceipt.signed_at < now - keep))
    digest = hashlib.sha256(signature.encode()).hexdigest()
    written = insert_rows(
        session,
        WebhookReceipt.__table__,
        [{"signature_hash": digest, "signed_at": signed_at, "received_at": now}],
        conflict=("signature_hash",),
        returning=("id",),
    )
    return bool(written)


@dataclass(frozen=True)
class _Event:
    id: str
    kind: str
    email: str
    at: datetime
    delivery_id: int | None
    contact_id: int | None
    payload: dict


def _event_id(event: dict) -> str:
    if event.get("sg_event_id"):
        return str(event["sg_event_id"])[:200]
    natural = [event.get(k) for k in ("sg_message_id", "event", "timestamp", "email")]
    return "natural-" + hashlib.sha256(json.dumps(natural, default=str).encode()).hexdigest()[:40]


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number < 2**63 else None


def _time(value, default: datetime) -> datetime:
    """An event's Unix timestamp; `default` (when received) when it has none we can read."""
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return default


def _events(raw: Iterable, now: datetime, counts: Counter) -> list[_Event]:
    """The well-formed events, each once, in the order they happened."""
    found: dict[str, _Event] = {}
    for event in raw:
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            counts["malformed"] += 1
            continue
        event_id = _event_id(event)
        if event_id in found:
            counts["duplicate"] += 1
            continue
        email = event.get("email")
        found[event_id] = _Event(
            event_id,
            event["event"][:40],
            email.strip()[:254] if isinstance(email, str) else "",
            _time(event.get("timestamp"), now),
            _int(event.get("delivery_id")),
            _int(event.get("contact_id")),
            event,
        )
    return sorted(found.values(), key=lambda e: e.at)


def apply_sendgrid_events(session: Session, events: Iterable[dict], now: datetime) -> Counter:
    """Records and applies a batch of webhook events; returns counts by outcome: the
    recipient state applied, or duplicate, stale (an older event than the state's), unknown
    (a delivery we do not have), uncorrelated (no delivery id), mismatched (the address is
    not that delivery's recipient's), recorded (an event that changes no state), malformed."""
    counts: Counter = Counter()
    batch = _events(events, now, counts)
    known = _known_deliveries(session, {e.delivery_id for e in batch if e.delivery_id is not None})
    new = _store(session, batch, known, now)
    if len(new) < len(batch):
        counts["duplicate"] += len(batch) - len(new)
    for event in batch:
        if event.id in new:
            counts[_apply(session, event, known, now)] += 1
    session.flush()
    return counts


def _known_deliveries(session: Session, ids: set[int]) -> set[int]:
    return set(session.scalars(select(Delivery.id).where(Delivery.id.in_(ids)))) if ids else set()


def _store(session: Session, batch: list[_Event], known: set[int], now: datetime) -> set[str]:
    """Stores the events not stored before (a concurrent copy of the batch included);
    returns their ids."""
    rows = [
        {
            "provider_event_id": e.id,
            "received_at": now,
            "event": e.kind,
            "email": e.email,
            "delivery_id": e.delivery_id if e.delivery_id in known else None,
            "payload": e.payload,
        }
        for e in batch
    ]
    written = insert_rows(
        session, DeliveryEvent.__table__, rows, conflict=("provider_event_id",), returning=("provider_event_id",)
    )
    return {row.provider_event_id for row in written}


def _recipient(session: Session, event: _Event) -> Recipient | None:
    query = select(Recipient).where(Recipient.delivery_id == event.delivery_id)
    if event.contact_id is not None:
        return session.scalar(query.where(Recipient.contact_id == event.contact_id))
    if event.email:
        return next((r for r in session.scalars(query) if r.email.lower() == event.email.lower()), None)
    return None


def _apply(session: Session, event: _Event, known: set[int], now: datetime) -> str:
    state = STATES.get(event.kind)
    if state is None:
        return "recorded"
    if event.delivery_id is None:
        return "uncorrelated"
    if event.delivery_id not in known:
        return "unknown"
    recipient = _recipient(session, event)
    if recipient is None or (event.email and recipient.email.lower() != event.email.lower()):
        return "mismatched"
    hard_bounce = event.kind == "bounce" and event.payload.get("type", "bounce") == "bounce"
    if event.kind == "bounce" and not hard_bounce:
        state = RecipientState.DEFERRED  # type=blocked: a temporary refusal, not a hard bounce
    if hard_bounce and event.email:
        session.execute(
            update(Contact)
            .where(Contact.id == recipient.contact_id, Contact.suppressed_at.is_(None))
            .values(suppressed_at=now)
        )
    if not report_applies(RecipientState(recipient.state), recipient.event_at, state, event.at):
        return "stale"
    recipient.state, recipient.updated_at, recipient.event_at = state, now, event.at
    return state
