"""The internal feed's events: one per GCR window (not per customer) with every
impacted service and its account, for the provider's NOC. SEQUENCE is the GCR's
revision and DTSTAMP = LAST-MODIFIED that revision's time, so the feed only changes
when the GCR does. Drafts never appear (SPEC §3.1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, joinedload

from changemgmt.config import Settings
from changemgmt.content.ical import EventFacts, event_bytes
from changemgmt.content.lines import service_line
from changemgmt.content.view import ServiceLine, WindowView
from changemgmt.domain.gcr import Contact, ServiceImpact
from changemgmt.domain.impact import Impact
from changemgmt.domain.retention import kept, retention_cutoff
from changemgmt.domain.status import Status
from changemgmt.feeds.blocks import Block, parse_block
from changemgmt.store import models
from changemgmt.store.models import Customer, Gcr, Revision, Service

CHUNK = 500


def published_gcr_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Gcr.id).where(Gcr.status != Status.DRAFT.value).order_by(Gcr.id)))


def internal_blocks(
    session: Session, gcr_ids: Collection[int], settings: Settings, now: datetime
) -> dict[int, list[Block]]:
    """The internal feed's events of the given GCRs, by GCR id (drafts have none)."""
    result: dict[int, list[Block]] = {gid: [] for gid in gcr_ids}
    cutoff = retention_cutoff(now, settings.feed_retention_days)
    ids = sorted(gcr_ids)
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(Gcr, Revision.created_at)
            .join(Revision, and_(Revision.gcr_id == Gcr.id, Revision.number == Gcr.revision))
            .where(Gcr.id.in_(ids[start : start + CHUNK]), Gcr.status != Status.DRAFT.value)
        ).all()
        windows = _windows(session, [gcr.id for gcr, _ in rows])
        current = {
            gcr.id: (gcr, revised)
            for gcr, revised in rows
            if any(kept(w.ends_at, _cancelled(gcr, w), revised, cutoff) for w in windows[gcr.id])
        }
        lines = _lines(session, list(current))
        for gcr_id, (gcr, revised) in current.items():
            facts = _facts(gcr, lines.get(gcr_id, ()), settings)
            for row in windows[gcr_id]:
                view = WindowView(
                    row.number, row.starts_at, row.ends_at, gcr.revision, revised, cancelled=_cancelled(gcr, row)
                )
                if kept(view.end, view.cancelled, revised, cutoff):
                    event = event_bytes(facts, view, provider_domain=settings.provider_domain, stamp=revised)
                    result[gcr_id].append(parse_block(event))
    return result


def _cancelled(gcr: Gcr, window: models.Window) -> bool:
    return window.dropped_at is not None or gcr.status == Status.CANCELLED.value


def _windows(session: Session, gcr_ids: list[int]) -> dict[int, list[models.Window]]:
    grouped: dict[int, list[models.Window]] = defaultdict(list)
    for row in session.scalars(
        select(models.Window).where(models.Window.gcr_id.in_(gcr_ids)).order_by(models.Window.number)
    ):
        grouped[row.gcr_id].append(row)
    return grouped


def _lines(session: Session, gcr_ids: list[int]) -> dict[int, list[ServiceLine]]:
    """Every impacted service of each GCR, by service ID, naming its account."""
    rows = session.execute(
        select(models.Impact, Service, Customer)
        .join(Service, Service.id == models.Impact.service_pk)
        .join(Customer, Customer.id == Service.customer_id)
        .where(models.Impact.gcr_id.in_(gcr_ids))
        .options(joinedload(Service.a_end), joinedload(Service.z_end))
        .order_by(models.Impact.gcr_id, Service.service_id)
    ).all()
    grouped: dict[int, list[ServiceLine]] = defaultdict(list)
    for impact, service, customer in rows:
        line = service_line(service, ServiceImpact(service.service_id, Impact(impact.level), impact.max_outage_minutes))
        where = ", ".join(x for x in (line.location, f"for {customer.account} ({customer.name})") if x)
        grouped[impact.gcr_id].append(
            ServiceLine(line.service_id, line.product, line.bandwidth, where, line.impact, line.max_outage_minutes)
        )
    return grouped


def _facts(gcr: Gcr, lines: Collection[ServiceLine], settings: Settings) -> EventFacts:
    contact = (
        Contact(gcr.contact_name or "", gcr.contact_email, gcr.contact_phone or "")
        if gcr.contact_email
        else Contact(settings.cm_name, settings.cm_email, settings.cm_phone)
    )
    return EventFacts(
        gcr_number=gcr.number,
        title=gcr.title,
        description=gcr.description,
        reason=gcr.reason,
        work_location=gcr.work_location,
        status=Status(gcr.status),
        emergency=gcr.emergency,
        organizer=contact,
        account="",
        time_zone="UTC",
        services=tuple(lines),
    )
