"""What a change manager's GCR page shows, read in one transaction: the GCR, whom it
affects, the warnings the service layer would raise or report on its next change
(conflicts, blackouts, minimum notice), the actions its status allows, and its timeline:
the audit trail (every change, by whom, what changed) and its notices with their
deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.domain.impact import stored_impact
from changemgmt.domain.notice import status_label
from changemgmt.domain.policy import needs_emergency_notice
from changemgmt.domain.states import DeliveryState
from changemgmt.domain.status import Status, allowed_transitions
from changemgmt.domain.windows import Window
from changemgmt.gcrs.blackouts import blackouts_for
from changemgmt.gcrs.conflicts import conflicts_of
from changemgmt.store.bulk import among
from changemgmt.store.models import AuditEntry, Customer, Delivery, Gcr, Impact, Notice, Service
from changemgmt.store.queries import accounts_reached, gcr_version, impacted_customers
from changemgmt.store.revisions import revision_states

SERVICES_SHOWN = 200  # a GCR may impact 100,000 services: the page lists the first ones
NOTICES_SHOWN = 500


@dataclass(frozen=True)
class NoticeLine:
    notice: Notice
    account: str
    deliveries: list[Delivery]


def gcr_view(session: Session, settings: Settings, gcr: Gcr, now: datetime) -> dict[str, Any]:
    status = Status(gcr.status)
    windows = [Window(w.number, w.starts_at, w.ends_at) for w in gcr.windows if w.dropped_at is None]
    impacted = impacted_customers(session, gcr.id)
    return {
        "gcr": gcr,
        "status": status,
        "status_label": status_label,
        "version": gcr_version(session, gcr),
        "windows": sorted(windows, key=lambda w: w.start),
        "dropped": [w for w in gcr.windows if w.dropped_at is not None],
        "impacted": impacted,
        "accounts": accounts_reached(impacted),
        "services": _services(session, gcr),
        "conflicts": conflicts_of(session, gcr),
        "blackouts": blackouts_for(session, gcr, windows) if not status.is_final else [],
        "short_notice": status is Status.DRAFT
        and not gcr.emergency
        and needs_emergency_notice(windows, now=now, minimum=settings.minimum_notice, emergency=False),
        "minimum_notice_days": settings.minimum_notice.days,
        "actions": actions_for(status),
        "history": (history := _history(session, gcr)),
        "moves": window_moves(session, gcr, history),
        "notices": _notices(session, gcr),
        "now": now,
    }


def actions_for(status: Status) -> list[str]:
    """The status actions a GCR in `status` offers, as the status machine allows them."""
    allowed = allowed_transitions(status)
    offered = {
        "publish": status is Status.DRAFT,
        "confirm": status is Status.TENTATIVE,
        "start": Status.IN_PROGRESS in allowed,
        "complete": Status.COMPLETED in allowed,
        "cancel": Status.CANCELLED in allowed,
    }
    return [action for action, shown in offered.items() if shown]


def _services(session: Session, gcr: Gcr) -> tuple[list[dict[str, Any]], int]:
    """The first impacted services (by account, then ID) and how many there are in all."""
    query = (
        select(Service.service_id, Customer.account, Service.product, Impact.level, Impact.max_outage_minutes)
        .join(Impact, Impact.service_pk == Service.id)
        .join(Customer, Customer.id == Service.customer_id)
        .where(Impact.gcr_id == gcr.id)
        .order_by(Customer.account, Service.service_id)
    )
    rows = session.execute(query.limit(SERVICES_SHOWN)).all()
    total = len(rows)
    if total == SERVICES_SHOWN:
        total = session.scalar(select(func.count()).select_from(Impact).where(Impact.gcr_id == gcr.id)) or 0
    lines = [
        {"service_id": sid, "account": account, "product": product, "impact": stored_impact(level), "minutes": minutes}
        for sid, account, product, level, minutes in rows
    ]
    return lines, total


def _history(session: Session, gcr: Gcr) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "gcr", AuditEntry.entity_key == gcr.number)
            .order_by(AuditEntry.id.desc())
        )
    )


@dataclass(frozen=True)
class WindowMove:
    """A window a revision added, moved or dropped: `before` and `after` as it stood."""

    number: int
    before: Window | None
    after: Window | None


def window_moves(session: Session, gcr: Gcr, history: list[AuditEntry]) -> dict[int, list[WindowMove]]:
    """By revision: the windows it changed, compared with the revision before it."""
    revisions = [
        e.details["revision"]
        for e in history
        if e.details.get("revision", 0) > 1 and "windows" in e.details.get("changes", ())
    ]
    states = revision_states(session, [(gcr.id, r) for r in revisions] + [(gcr.id, r - 1) for r in revisions])
    moves: dict[int, list[WindowMove]] = {}
    for revision in revisions:
        if (gcr.id, revision) not in states or (gcr.id, revision - 1) not in states:
            continue
        old = {w.number: w for w in states[(gcr.id, revision - 1)].windows}
        new = {w.number: w for w in states[(gcr.id, revision)].windows}
        moves[revision] = [
            WindowMove(n, old.get(n), new.get(n)) for n in sorted(old.keys() | new.keys()) if old.get(n) != new.get(n)
        ]
    return moves


def _notices(session: Session, gcr: Gcr) -> list[NoticeLine]:
    """The GCR's notices, newest first, each with its deliveries."""
    rows = session.execute(
        select(Notice, Customer.account)
        .join(Customer, Customer.id == Notice.customer_id)
        .where(Notice.gcr_id == gcr.id)
        .order_by(Notice.id.desc())
        .limit(NOTICES_SHOWN)
    ).all()
    deliveries: dict[int, list[Delivery]] = {}
    ids = [notice.id for notice, _ in rows]
    if ids:
        for d in session.scalars(select(Delivery).where(among(Delivery.notice_id, ids)).order_by(Delivery.id)):
            deliveries.setdefault(d.notice_id, []).append(d)
    return [NoticeLine(notice, account, deliveries.get(notice.id, [])) for notice, account in rows]


def failed(delivery: Delivery) -> bool:
    return delivery.state == DeliveryState.FAILED
