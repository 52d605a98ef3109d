"""The GCR form (new and edit) as fields a browser posts, turned into a GCR document
(gcrs/input.py reads it) and back. Windows are wall times in the manager's zone, each
row read here with domain.windows.parse_instant so that a time the clocks skip or repeat
is explained; impacts come from pasted service IDs, a CSV file and a location
(gcrs/impact_lists.py). Every problem is collected, each naming its field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, Problems
from changemgmt.domain.impact import Impact as Level
from changemgmt.domain.windows import parse_instant, zone
from changemgmt.gcrs.impact_lists import csv_impacts, location_impacts, pasted_impacts
from changemgmt.store.gcr_state import details_of, impact_rows
from changemgmt.store.models import Gcr, Impact

TEXT = ("number", "title", "description", "reason", "work_location", "internal_notes", "locations")
CONTACT = ("contact_name", "contact_email", "contact_phone")
IMPACTS_SHOWN_MAX = 2000  # more than this are kept unless replaced (not written into the page)
NEW_ROWS = 3


@dataclass
class WindowRow:
    label: int  # the window's number: its own, or the one it will get
    number: int | None  # an existing window's
    start: str = ""
    end: str = ""
    utc: tuple[datetime, datetime] | None = None


@dataclass
class GcrForm:
    values: dict[str, str]
    rows: list[WindowRow]
    impacts_shown: bool = True  # the services box lists every current impact
    errors: list[DomainError] = field(default_factory=list)

    def error_fields(self) -> set[str]:
        """The form fields at fault (a service named in an impact: the service IDs box)."""
        fields = {e.field.split(" line ")[0].split(".")[0] for e in self.errors}
        return fields | ({"services"} if any(f.startswith("impacts") for f in fields) else set())


def blank_form() -> GcrForm:
    values = {name: "" for name in (*TEXT, *CONTACT, "services", "location", "override_reason", "blackout_override")}
    values |= {"impact_level": Level.OUTAGE.value, "emergency": ""}
    return GcrForm(values, [WindowRow(n, None) for n in range(1, NEW_ROWS + 1)])


def form_of(session: Session, gcr: Gcr, time_zone: str) -> GcrForm:
    """The form filled with the GCR as it stands, its windows in `time_zone`."""
    state = details_of(gcr)
    form = blank_form()
    form.values |= {name: getattr(state, name) or "" for name in TEXT if name not in ("locations", "number")}
    form.values |= {"number": gcr.number, "locations": ", ".join(state.location_codes)}
    form.values["emergency"] = "on" if state.emergency else ""
    if state.contact:
        form.values |= {f"contact_{k}": getattr(state.contact, k) or "" for k in ("name", "email", "phone")}
    rows = [_row(w.number, w.number, w.start, w.end, time_zone) for w in sorted(state.windows, key=lambda w: w.number)]
    next_number = max((w.number for w in gcr.windows), default=0) + 1
    form.rows = rows + [WindowRow(next_number, None)]
    count = session.scalar(select(func.count()).select_from(Impact).where(Impact.gcr_id == gcr.id)) or 0
    impacts = list(impact_rows(gcr)) if count <= IMPACTS_SHOWN_MAX else None
    form.impacts_shown = impacts is not None
    form.values["services"] = "\n".join(_impact_line(*row) for row in impacts or [])
    return form


def _row(label: int, number: int | None, start: datetime, end: datetime, time_zone: str) -> WindowRow:
    local = [value.astimezone(zone(time_zone)).strftime("%Y-%m-%dT%H:%M") for value in (start, end)]
    return WindowRow(label, number, local[0], local[1], (start, end))


def _impact_line(service_id: str, level: str, minutes: int | None) -> str:
    return f"{service_id}:{level}" + (f":{minutes}" if minutes is not None else "")


def posted_form(fields: dict[str, str], next_number: int) -> GcrForm:
    """The form as posted (to show again with its problems)."""
    form = blank_form()
    form.values |= {name: fields.get(name, "") for name in form.values}
    form.impacts_shown = fields.get("impacts_shown", "1") == "1"
    rows, numbers = [], next_number
    for index in range(1, _row_count(fields) + 1):
        raw = fields.get(f"window_{index}_number", "")
        number = int(raw) if raw.isdigit() else None
        label = number if number is not None else numbers
        numbers += number is None
        rows.append(
            WindowRow(label, number, fields.get(f"window_{index}_start", ""), fields.get(f"window_{index}_end", ""))
        )
    form.rows = rows + [WindowRow(numbers, None)] if all(r.start or r.end for r in rows) else rows
    return form


def _row_count(fields: dict[str, str]) -> int:
    found = [int(m.group(1)) for key in fields if (m := re.fullmatch(r"window_(\d{1,3})_start", key))]
    return max(found, default=0)


def document_of(
    session: Session, form: GcrForm, time_zone: str, csv_data: bytes | None, creating: bool
) -> tuple[dict[str, Any], list[DomainError]]:
    """The GCR document the form says, with the problems found reading it (the service
    finds the rest). Windows are given as UTC instants, resolved here in `time_zone`."""
    problems = Problems()
    values = form.values
    document: dict[str, Any] = {name: values[name] for name in TEXT if name != "locations"}
    if not creating:
        del document["number"]
    document["locations"] = values["locations"]
    document["emergency"] = values["emergency"] == "on"
    contact = {k: values[f"contact_{k}"].strip() for k in ("name", "email", "phone")}
    document["contact"] = contact if any(contact.values()) else None
    windows = []
    for row in form.rows:
        with problems.checking():
            window = read_row(row, time_zone)
            if window is not None:
                windows.append(window)
    if windows or not creating:
        document["windows"] = windows
    with problems.checking():
        impacts = _impacts(session, form, csv_data)
        if impacts is not None:
            document["impacts"] = impacts
    if creating:  # an empty field is not given: the service names those required
        document = {k: v for k, v in document.items() if v not in ("", None)}
    return {k: v for k, v in document.items() if v is not None}, problems.errors


def read_row(row: WindowRow, time_zone: str) -> dict[str, Any] | None:
    """The row as a window with UTC times, or None when both its times are empty."""
    start, end = row.start.strip(), row.end.strip()
    if not start and not end:
        return None
    problems, instants = Problems(), []
    for name, raw in (("start", start), ("end", end)):
        with problems.checking():
            if not raw:
                raise DomainError(
                    f"windows[{row.label}].{name}", "is required (or clear both times to drop the window)"
                )
            instants.append(parse_instant(raw, time_zone, f"windows[{row.label}].{name}"))
    problems.raise_any()
    if instants[1] <= instants[0]:
        raise DomainError(f"windows[{row.label}].end", "must be after the start")
    row.utc = (instants[0], instants[1])
    window: dict[str, Any] = {"start": instants[0].isoformat(), "end": instants[1].isoformat()}
    if row.number is not None:
        window["number"] = row.number
    return window


def _impacts(session: Session, form: GcrForm, csv_data: bytes | None) -> list[dict[str, Any]] | None:
    """The impacts the three sources give together (a service given twice: the last
    one counts); None to leave them as they are (nothing given, and the page could not
    show them all)."""
    values = form.values
    problems = Problems()
    level = Level.OUTAGE
    with problems.checking():
        level = Level.parse(values["impact_level"] or Level.OUTAGE.value, "impact_level")
    items: list[dict[str, Any]] = []
    with problems.checking():
        items += pasted_impacts(values["services"], level)
    if csv_data:
        with problems.checking():
            items += csv_impacts(csv_data, level)
    if values["location"].strip():
        with problems.checking():
            items += location_impacts(session, values["location"].strip(), level)
    problems.raise_any()
    if not items and not form.impacts_shown:
        return None
    return list({item["service"]: item for item in items}.values())


LABELS = {
    "number": "Number",
    "title": "Title",
    "description": "Description",
    "reason": "Reason",
    "work_location": "Work location",
    "internal_notes": "Internal notes",
    "locations": "Location codes",
    "emergency": "Emergency",
    "contact": "Contact",
    "windows": "Windows",
    "impacts": "Impacts",
    "impact_level": "Impact level",
    "services": "Service IDs",
    "impacts_csv": "CSV file",
    "location": "Every service at a location",
    "override_reason": "Minimum-notice override reason",
    "blackout_override": "Blackout override reason",
    "version": "This form",
    "status": "Status",
    "q": "Number or words",
    "from": "From",
    "to": "To",
    "customer": "Customer account",
    "service": "Service ID",
    "account": "Account",
    "kind": "Notice kind",
}


def field_label(name: str) -> str:
    """A problem's field as the form labels it: 'Window 2 start', 'Service IDs line 3'."""
    window = re.fullmatch(r"windows\[(\d+)\](?:\.(\w+))?", name)
    if window:
        return f"Window {window.group(1)}" + (f" {window.group(2)}" if window.group(2) else "")
    impact = re.fullmatch(r"impacts\[([^\]]+)\](?:\.\w+)?", name)
    if impact:
        return f"Impacts: {impact.group(1)}"
    head, _, line = name.partition(" line ")
    base, _, part = head.partition(".")
    label = LABELS.get(base, base.replace("_", " ").capitalize())
    return label + (f" {part}" if part else "") + (f", line {line}" if line else "")
