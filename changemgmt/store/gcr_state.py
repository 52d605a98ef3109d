"""Reading a stored GCR back as the domain's GcrState (writing it: gcrs.state)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import exists, inspect, select
from sqlalchemy.orm import Session

from changemgmt.domain.gcr import Contact, GcrState, ServiceImpact
from changemgmt.domain.impact import stored_impact
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window
from changemgmt.store import models


def state_of(gcr: models.Gcr) -> GcrState:
    impacts = (
        ServiceImpact(service_id, stored_impact(level), minutes) for service_id, level, minutes in impact_rows(gcr)
    )
    return replace(details_of(gcr), impacts=tuple(impacts)).canonical()


def details_of(gcr: models.Gcr) -> GcrState:
    """The GCR's state without its impacts, for a change that leaves them as they are
    (a status change): a GCR may impact 100,000 services."""
    contact = None
    if gcr.contact_email:
        contact = Contact(gcr.contact_name or "", gcr.contact_email, gcr.contact_phone or "")
    return GcrState(
        number=gcr.number,
        title=gcr.title,
        description=gcr.description,
        status=Status(gcr.status),
        reason=gcr.reason,
        work_location=gcr.work_location,
        location_codes=tuple(loc.code for loc in gcr.locations),
        contact=contact,
        emergency=gcr.emergency,
        internal_notes=gcr.internal_notes,
        time_zone=gcr.time_zone,
        windows=tuple(Window(w.number, w.starts_at, w.ends_at) for w in gcr.windows if w.dropped_at is None),
    ).canonical()


def has_impacts(gcr: models.Gcr) -> bool:
    return bool(_session(gcr).scalar(select(exists().where(models.Impact.gcr_id == gcr.id))))


def stored_impacts(gcr: models.Gcr) -> bool:
    """True when the GCR's impacts are only in the database (not loaded, so not changed
    in memory): one query reads them, where the ORM would load every service one by one."""
    state = inspect(gcr)
    return state.persistent and "impacts" in state.unloaded


def impact_rows(gcr: models.Gcr):
    """(service ID, level, max outage) of each impact of the GCR."""
    if not stored_impacts(gcr):
        return [(i.service.service_id, i.level, i.max_outage_minutes) for i in gcr.impacts]
    return (
        _session(gcr)
        .execute(
            select(models.Service.service_id, models.Impact.level, models.Impact.max_outage_minutes)
            .join(models.Impact, models.Impact.service_pk == models.Service.id)
            .where(models.Impact.gcr_id == gcr.id)
        )
        .all()
    )


def _session(gcr: models.Gcr) -> Session:
    session = inspect(gcr).session
    if session is None:
        raise ValueError(f"GCR {gcr.number} is not attached to a session")
    return session
