"""Moving between the stored GCR rows and the domain's GcrState."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import exists, inspect, select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError
from changemgmt.domain.gcr import Contact, GcrState, ServiceImpact
from changemgmt.domain.impact import stored_impact
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window
from changemgmt.gcrs.input import GcrPatch, WindowInput
from changemgmt.store import models


def state_of(gcr: models.Gcr) -> GcrState:
    impacts = (ServiceImpact(service_id, stored_impact(level), minutes) for service_id, level, minutes in _impact_rows(gcr))
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
        windows=tuple(Window(w.number, w.starts_at, w.ends_at) for w in gcr.windows if w.dropped_at is None),
    ).canonical()


def has_impacts(gcr: models.Gcr) -> bool:
    return bool(_session(gcr).scalar(select(exists().where(models.Impact.gcr_id == gcr.id))))


def _stored_impacts(gcr: models.Gcr) -> bool:
    """True when the GCR's impacts are only in the database (not loaded, so not changed
    in memory): one query reads them, where the ORM would load every service one by one."""
    state = inspect(gcr)
    return state.persistent and "impacts" in state.unloaded


def _impact_rows(gcr: models.Gcr):
    """(service ID, level, max outage) of each impact of the GCR."""
    if not _stored_impacts(gcr):
        return [(i.service.service_id, i.level, i.max_outage_minutes) for i in gcr.impacts]
    return _session(gcr).execute(
        select(models.Service.service_id, models.Impact.level, models.Impact.max_outage_minutes)
        .join(models.Impact, models.Impact.service_pk == models.Service.id)
        .where(models.Impact.gcr_id == gcr.id)
    ).all()


def _session(gcr: models.Gcr) -> Session:
    return inspect(gcr).session


def apply_patch(old: GcrState, patch: GcrPatch, next_window_number: int) -> GcrState:
    """Returns the state after the patch; windows given replace the active set."""
    values = {
        name: getattr(patch, name)
        for name in ("title", "description", "reason", "work_location", "internal_notes", "location_codes",
                     "emergency", "contact", "impacts")
        if getattr(patch, name) is not None
    }
    if patch.windows is not None:
        values["windows"] = _merge_windows(old.windows, patch.windows, next_window_number)
    return replace(old, **values).canonical()


def _merge_windows(old: tuple[Window, ...], given: tuple[WindowInput, ...], next_number: int) -> tuple[Window, ...]:
    active = {w.number for w in old}
    merged = []
    for index, item in enumerate(given, start=1):
        number = item.number
        if number is None:
            number, next_number = next_number, next_number + 1
        elif number not in active:
            raise DomainError(f"windows[{index}].number", f"the GCR has no window {number} to change")
        merged.append(Window(number, item.start, item.end))
    return tuple(merged)


def write_state(session: Session, gcr: models.Gcr, state: GcrState, now: datetime,
                before: GcrState | None = None) -> None:
    """Makes the rows of `gcr` say what `state` says. `before`: state_of(gcr), when the
    caller has read it in this transaction (it spares reading the impacts again)."""
    write_details(session, gcr, state, now)
    _write_impacts(session, gcr, state.impacts, before.impacts if before is not None else None)


def write_details(session: Session, gcr: models.Gcr, state: GcrState, now: datetime) -> None:
    """Makes the rows of `gcr` say what `state` says, but its impacts, left as they are."""
    gcr.title = state.title
    gcr.description = state.description
    gcr.reason = state.reason
    gcr.work_location = state.work_location
    gcr.internal_notes = state.internal_notes
    gcr.emergency = state.emergency
    gcr.status = state.status.value
    gcr.contact_name = state.contact.name if state.contact else None
    gcr.contact_email = state.contact.email if state.contact else None
    gcr.contact_phone = state.contact.phone if state.contact else None
    gcr.locations = _locations(session, state.location_codes)
    _write_windows(gcr, state.windows, now)


def _locations(session: Session, codes: tuple[str, ...]) -> list[models.Location]:
    found = {loc.code: loc for loc in session.scalars(select(models.Location).where(models.Location.code.in_(codes)))}
    for code in codes:
        if code not in found:
            raise DomainError("locations", f"no location with code {code!r}")
    return [found[code] for code in codes]


def _write_windows(gcr: models.Gcr, windows: tuple[Window, ...], now: datetime) -> None:
    by_number = {w.number: w for w in gcr.windows}
    wanted = {w.number for w in windows}
    for row in gcr.windows:
        if row.number not in wanted and row.dropped_at is None:
            row.dropped_at = now
    for window in windows:
        row = by_number.get(window.number)
        if row is None:
            gcr.windows.append(models.Window(number=window.number, starts_at=window.start, ends_at=window.end,
                                             times_set_at=now))
        elif (row.starts_at, row.ends_at) != (window.start, window.end) or row.dropped_at:
            row.starts_at, row.ends_at, row.dropped_at, row.times_set_at = window.start, window.end, None, now


def _write_impacts(session: Session, gcr: models.Gcr, impacts: tuple[ServiceImpact, ...],
                   stored: tuple[ServiceImpact, ...] | None = None) -> None:
    if _stored_impacts(gcr) and (impacts == stored if stored is not None else _same_impacts(gcr, impacts)):
        return  # a status or text change: nothing to write, and no need to load 100,000 rows
    services = _services(session, [i.service_id for i in impacts])
    existing = {row.service_pk: row for row in gcr.impacts}
    wanted = {services[i.service_id].id: i for i in impacts}
    for pk, row in existing.items():
        if pk not in wanted:
            gcr.impacts.remove(row)
    for pk, item in wanted.items():
        row = existing.get(pk)
        if row is None:
            row = models.Impact(service=services[item.service_id], service_pk=pk)
            gcr.impacts.append(row)
        row.level = item.impact.value
        row.max_outage_minutes = item.max_outage_minutes


def _same_impacts(gcr: models.Gcr, impacts: tuple[ServiceImpact, ...]) -> bool:
    stored = {service_id: (level, minutes) for service_id, level, minutes in _impact_rows(gcr)}
    wanted = {i.service_id: (i.impact.value, i.max_outage_minutes) for i in impacts}
    return len(wanted) == len(impacts) and stored == wanted


def _services(session: Session, service_ids: list[str]) -> dict[str, models.Service]:
    found: dict[str, models.Service] = {}
    for start in range(0, len(service_ids), 500):
        chunk = service_ids[start:start + 500]
        query = select(models.Service).where(models.Service.service_id.in_(chunk))
        found.update((s.service_id, s) for s in session.scalars(query))
    for service_id in service_ids:
        if service_id not in found:
            raise DomainError(f"impacts[{service_id}].service", f"no service with ID {service_id!r}")
    return found


def next_window_number(gcr: models.Gcr) -> int:
    return max((w.number for w in gcr.windows), default=0) + 1
