"""Bulk writes of the outbox: notices with their deliveries and recipients, skips, and
audience standings. One statement per table per chunk (store.bulk), so that a GCR
reaching 20,000 customers plans in a few round trips per thousand customers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial

from sqlalchemy import update
from sqlalchemy.orm import Session

from changemgmt.domain.planner import PlannedNotice, Skip, Standing
from changemgmt.domain.recipients import ContactPrefs
from changemgmt.domain.states import (
    DELIVERY_PLANNED,
    DELIVERY_SUPERSEDED,
    NOTICE_PLANNED,
    NOTICE_SKIPPED,
    NOTICE_WITHOUT_RECIPIENT,
    RECIPIENT_PLANNED,
)
from changemgmt.store.bulk import among, insert_rows, update_rows
from changemgmt.store.models import Audience, Delivery, Notice, Recipient
from changemgmt.store.queries import events_json

MAX_PERSONALIZATIONS = 1000  # SendGrid's limit per request (STANDARDS C2)


def insert_notices(
    session: Session,
    gcr_id: int,
    revision: int,
    rows: list[tuple[int, PlannedNotice, list[ContactPrefs]]],
    now: datetime,
    events: Mapping[int, dict] | None = None,
    later: list[Callable[[], object]] | None = None,
) -> list[tuple[int, PlannedNotice, list[ContactPrefs]]]:
    """Inserts the notices whose keys are new, with their deliveries and recipients;
    returns those, as given. `events`: each customer's events as notices keep them, if
    known (store.queries.events_json). With `later`, the insert of the recipients, which
    nothing reads back, is put there for the caller to run, not run."""
    if events is None:
        events = events_json(session, gcr_id, {cid for cid, _, _ in rows})
    values = [
        _notice_values(gcr_id, revision, cid, notice, bool(chosen), events.get(cid, {}), now)
        for cid, notice, chosen in rows
    ]
    created = insert_rows(
        session, Notice.__table__, values, conflict=("gcr_id", "key"), returning=("id", "customer_id", "key")
    )
    ids = {(customer_id, key): notice_id for notice_id, customer_id, key in created}
    inserted = [(cid, n, chosen) for cid, n, chosen in rows if (cid, _key(cid, n)) in ids]
    groups = [(ids[(cid, _key(cid, n))], n, chosen) for cid, n, chosen in inserted if chosen]
    recipients = _insert_deliveries(session, groups, now)
    insert = partial(insert_rows, session, Recipient.__table__, recipients)
    if later is None:
        insert()
    else:
        later.append(insert)
    return inserted


def _key(customer_id: int, notice: PlannedNotice) -> str:
    return f"c{customer_id}:{notice.key}"


def _notice_values(gcr_id, revision, customer_id, notice: PlannedNotice, has_recipients, events, now) -> dict:
    return {
        "gcr_id": gcr_id,
        "customer_id": customer_id,
        "key": _key(customer_id, notice),
        "kind": notice.kind.value,
        "revision": revision,
        "previous_revision": notice.previous_revision,
        "window_number": notice.window_number,
        "offset_minutes": int(notice.offset.total_seconds() // 60) if notice.offset else None,
        "due_at": notice.due_at,
        "state": (NOTICE_PLANNED if has_recipients else NOTICE_WITHOUT_RECIPIENT).target,
        "note": notice.note,
        "skip_reason": None,
        "events": events,
        "created_at": now,
        "settled_at": None if has_recipients else now,
    }


def _insert_deliveries(session: Session, rows: list[tuple[int, PlannedNotice, list[ContactPrefs]]], now) -> list[dict]:
    """Inserts the deliveries (a thousand recipients each); returns their recipients' rows."""
    groups = [
        (notice_id, n, chosen[i : i + MAX_PERSONALIZATIONS])
        for notice_id, n, chosen in rows
        for i in range(0, len(chosen), MAX_PERSONALIZATIONS)
    ]
    if not groups:
        return []
    values = [
        {
            "notice_id": notice_id,
            "state": DELIVERY_PLANNED.target,
            "attempts": 0,
            "next_attempt_at": n.due_at,
            "priority": n.kind.priority,
        }
        for notice_id, n, _ in groups
    ]
    created: dict[int, list[int]] = defaultdict(list)
    for delivery_id, notice_id in insert_rows(session, Delivery.__table__, values, returning=("id", "notice_id")):
        created[notice_id].append(delivery_id)
    # RETURNING has no set order; a notice's groups are alike (its recipients, a thousand
    # at a time), so its deliveries take them in id order.
    ids = {notice_id: iter(sorted(delivery_ids)) for notice_id, delivery_ids in created.items()}
    recipients = [
        {
            "notice_id": notice_id,
            "delivery_id": delivery_id,
            "contact_id": c.id,
            "email": c.email,
            "state": RECIPIENT_PLANNED.target,
            "updated_at": now,
        }
        for notice_id, _, chosen in groups
        for delivery_id in (next(ids[notice_id]),)
        for c in chosen
    ]
    return recipients


def skip_notices(session: Session, skips: list[Skip], now: datetime) -> None:
    """Marks the skipped notices, and their deliveries, that are still pending (NOTICE_SKIPPED,
    DELIVERY_SUPERSEDED); their recipients stay as they are."""
    if not skips:
        return
    update_rows(
        session,
        Notice.__table__,
        [{"id": s.notice_id, "skip_reason": s.reason} for s in skips],
        match=("id",),
        only={"state": NOTICE_SKIPPED.source},
        constants={"state": NOTICE_SKIPPED.target, "settled_at": now},
    )
    session.execute(
        update(Delivery)
        .where(among(Delivery.notice_id, [s.notice_id for s in skips]), Delivery.state == DELIVERY_SUPERSEDED.source)
        .values(state=DELIVERY_SUPERSEDED.target)
    )


def save_audiences(
    session: Session, gcr_id: int, standings: dict[int, Standing], known: dict[int, Audience], now: datetime
) -> None:
    """Stores each customer's standing after planning (one upsert per chunk)."""
    values = [_audience_values(gcr_id, cid, s, now) for cid, s in standings.items() if _changed(known.get(cid), s)]
    if not values:
        return
    insert_rows(
        session,
        Audience.__table__,
        values,
        conflict=("gcr_id", "customer_id"),
        update=[name for name in values[0] if name not in ("gcr_id", "customer_id")],
    )


def _audience_values(gcr_id: int, customer_id: int, standing: Standing, now: datetime) -> dict:
    return {
        "gcr_id": gcr_id,
        "customer_id": customer_id,
        "in_scope": standing.in_scope,
        "notified": standing.notified,
        "notified_at": standing.notified_at,
        "shown_revision": standing.shown_revision,
        "shown_windows": standing.shown.windows if standing.shown else None,
        "shown_content": standing.shown.content if standing.shown else None,
        "changed_at": now,
    }


def _changed(row: Audience | None, standing: Standing) -> bool:
    if row is None:
        return True
    shown = (standing.shown.windows, standing.shown.content) if standing.shown else (None, None)
    return (row.in_scope, row.notified, row.notified_at, row.shown_revision, row.shown_windows, row.shown_content) != (
        standing.in_scope,
        standing.notified,
        standing.notified_at,
        standing.shown_revision,
        *shown,
    )
