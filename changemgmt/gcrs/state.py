"""Writing a GcrState into the stored GCR rows (reading them back: store.gcr_state)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, Problems
from changemgmt.domain.gcr import GcrState, ServiceImpact
from changemgmt.domain.windows import Window
from changemgmt.gcrs.input import GcrPatch, WindowInput, resolve_window
from changemgmt.store import models
from changemgmt.store.chunks import chunks
from changemgmt.store.gcr_state import impact_rows, stored_impacts

UNKNOWN_LISTED = 20  # unknown services named one by one; the rest are counted


def apply_patch(old: GcrState, patch: GcrPatch, next_window_number: int) -> GcrState:
    """Returns the state after the patch; windows given replace the active set, their
    times written without an offset read in the patch's time zone, else the GCR's.
    Raises every problem with the windows at once."""
    values = {
        name: getattr(patch, name)
        for name in (
            "title",
            "description",
            "reason",
            "work_location",
            "internal_notes",
            "location_codes",
            "emergency",
            "contact",
            "impacts",
            "time_zone",
        )
        if getattr(patch, name) is not None
    }
    if patch.windows is not None:
        time_zone = patch.time_zone or old.time_zone
        values["windows"] = _merge_windows(old.windows, patch.windows, next_window_number, time_zone)
    return replace(old, **values).canonical()


def _merge_windows(
    old: tuple[Window, ...], given: tuple[WindowInput, ...], next_number: int, time_zone: str | None
) -> tuple[Window, ...]:
    active = {w.number for w in old}
    problems, merged = Problems(), []
    for item in given:
        number = item.number
        if number is None:
            number, next_number = next_number, next_number + 1
        elif number not in active:
            problems.add(f"{item.field}.number", f"the GCR has no window {number} to change")
            continue
        with problems.checking():
            merged.append(Window(number, *resolve_window(item, time_zone)))
    problems.raise_any()
    return tuple(merged)


def write_state(
    session: Session, gcr: models.Gcr, state: GcrState, now: datetime, before: GcrState | None = None
) -> None:
    """Makes the rows of `gcr` say what `state` says. `before`: state_of(gcr), when the
    caller has read it in this transaction (it spares reading the impacts again). Raises
    DomainErrors naming every location and service that does not exist."""
    problems = Problems()
    with problems.checking():
        write_details(session, gcr, state, now)
    with problems.checking():
        _write_impacts(session, gcr, state.impacts, before.impacts if before is not None else None)
    problems.raise_any()


def write_details(session: Session, gcr: models.Gcr, state: GcrState, now: datetime) -> None:
    """Makes the rows of `gcr` say what `state` says, but its impacts, left as they are."""
    gcr.title = state.title
    gcr.description = state.description
    gcr.reason = state.reason
    gcr.work_location = state.work_location
    gcr.internal_notes = state.internal_notes
    gcr.time_zone = state.time_zone
    gcr.emergency = state.emergency
    gcr.status = state.status.value
    gcr.contact_name = state.contact.name if state.contact else None
    gcr.contact_email = state.contact.email if state.contact else None
    gcr.contact_phone = state.contact.phone if state.contact else None
    gcr.locations = _locations(session, state.location_codes)
    _write_windows(gcr, state.windows, now)


def _locations(session: Session, codes: tuple[str, ...]) -> list[models.Location]:
    found = {loc.code: loc for loc in session.scalars(select(models.Location).where(models.Location.code.in_(codes)))}
    _unknown([], [code for code in codes if code not in found]).raise_any()
    return [found[code] for code in codes]


def _unknown(service_ids: list[str], location_codes: list[str]) -> Problems:
    """A problem for each service ID and location code given, which do not exist (a long
    list of services is cut after UNKNOWN_LISTED, the rest counted)."""
    problems = Problems()
    for code in location_codes:
        problems.add("locations", f"no location with code {code!r}")
    for service_id in service_ids[:UNKNOWN_LISTED]:
        problems.add(f"impacts[{service_id}].service", f"no service with ID {service_id!r}")
    if len(service_ids) > UNKNOWN_LISTED:
        problems.add("impacts", f"and {len(service_ids) - UNKNOWN_LISTED:,} more service IDs that do not exist")
    return problems


def unknown_references(session: Session, patch: GcrPatch) -> list[DomainError]:
    """The problems with the services and locations the patch names that do not exist:
    for a patch refused for other reasons, so that all its problems are named at once
    (a patch that is written has them named as it is written)."""
    codes = list(dict.fromkeys(patch.location_codes or ()))
    service_ids = list(dict.fromkeys(i.service_id for i in patch.impacts or ()))
    known_codes = {
        code
        for chunk in chunks(codes)
        for code in session.scalars(select(models.Location.code).where(models.Location.code.in_(chunk)))
    }
    known_services = {
        sid
        for chunk in chunks(service_ids)
        for sid in session.scalars(select(models.Service.service_id).where(models.Service.service_id.in_(chunk)))
    }
    missing = _unknown([s for s in service_ids if s not in known_services], [c for c in codes if c not in known_codes])
    return missing.errors


def _write_windows(gcr: models.Gcr, windows: tuple[Window, ...], now: datetime) -> None:
    by_number = {w.number: w for w in gcr.windows}
    wanted = {w.number for w in windows}
    for stored in gcr.windows:
        if stored.number not in wanted and stored.dropped_at is None:
            stored.dropped_at = now
    for window in windows:
        row = by_number.get(window.number)
        if row is None:
            gcr.windows.append(
                models.Window(number=window.number, starts_at=window.start, ends_at=window.end, times_set_at=now)
            )
        elif (row.starts_at, row.ends_at) != (window.start, window.end) or row.dropped_at:
            row.starts_at, row.ends_at, row.dropped_at, row.times_set_at = window.start, window.end, None, now


def _write_impacts(
    session: Session,
    gcr: models.Gcr,
    impacts: tuple[ServiceImpact, ...],
    stored: tuple[ServiceImpact, ...] | None = None,
) -> None:
    if stored_impacts(gcr) and (impacts == stored if stored is not None else _same_impacts(gcr, impacts)):
        return  # a status or text change: nothing to write, and no need to load 100,000 rows
    services = _services(session, [i.service_id for i in impacts])
    existing = {row.service_pk: row for row in gcr.impacts}
    wanted = {services[i.service_id].id: i for i in impacts}
    for pk, unwanted in existing.items():
        if pk not in wanted:
            gcr.impacts.remove(unwanted)
    for pk, item in wanted.items():
        row = existing.get(pk)
        if row is None:
            row = models.Impact(service=services[item.service_id], service_pk=pk)
            gcr.impacts.append(row)
        row.level = item.impact.value
        row.max_outage_minutes = item.max_outage_minutes


def _same_impacts(gcr: models.Gcr, impacts: tuple[ServiceImpact, ...]) -> bool:
    stored = {service_id: (level, minutes) for service_id, level, minutes in impact_rows(gcr)}
    wanted = {i.service_id: (i.impact.value, i.max_outage_minutes) for i in impacts}
    return len(wanted) == len(impacts) and stored == wanted


def _services(session: Session, service_ids: list[str]) -> dict[str, models.Service]:
    found: dict[str, models.Service] = {}
    for start in range(0, len(service_ids), 500):
        chunk = service_ids[start : start + 500]
        query = select(models.Service).where(models.Service.service_id.in_(chunk))
        found.update((s.service_id, s) for s in session.scalars(query))
    _unknown([service_id for service_id in service_ids if service_id not in found], []).raise_any()
    return found


def next_window_number(gcr: models.Gcr) -> int:
    return max((w.number for w in gcr.windows), default=0) + 1
