"""GCR input as the user writes it (a JSON/YAML document or CLI flags) turned into domain
values. Every problem names the field at fault, and all of a document's are found at once.

A document looks like:

    number: GCR-1001
    title: Fibre splice on the Dallas ring
    description: Splicing damaged fibre between DLLSTX01 and FTWOTX02.
    reason: The cable was cut by road works.
    work_location: Dallas, TX
    locations: [DLLSTX01]
    emergency: false
    contact: {name: NOC, email: noc@example.net, phone: "+1 800 555 0100"}
    time_zone: America/Chicago      # for windows written without an offset
    windows:
      - {start: "2026-12-01T01:00", end: "2026-12-01T05:00"}
      - "2026-12-02T01:00/2026-12-02T05:00"        # the same, as an ISO 8601 interval
    impacts:
      - {service: SVC-1, impact: OUTAGE, max_outage_minutes: 30}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from changemgmt.domain.errors import DomainError, DomainErrors, Problems
from changemgmt.domain.gcr import (
    LOCATION_CODE_MAX,
    MAX_OUTAGE_MINUTES_MAX,
    NUMBER_MAX,
    SERVICE_ID_MAX,
    TEXT_FIELDS,
    Contact,
    ServiceImpact,
    check_contact,
    check_text,
)
from changemgmt.domain.impact import Impact
from changemgmt.domain.text import one_line
from changemgmt.domain.windows import parse_instant, zone

_INSTANT_MAX = 64
_CONTACT_KEYS = ("name", "email", "phone")
_WINDOW_KEYS = ("number", "start", "end", "time_zone")
_IMPACT_KEYS = ("service", "service_id", "impact", "max_outage_minutes")


@dataclass(frozen=True)
class WindowInput:
    """A window as entered; `number` is None for a new window. `start` and `end` are
    aware when written with an offset, else wall times read in `time_zone` or, without
    one, in the GCR's zone (resolve_window)."""

    number: int | None
    start: datetime
    end: datetime
    time_zone: str | None = None
    field: str = "windows[1]"


@dataclass(frozen=True)
class GcrPatch:
    """The fields a user gave; None means "leave as it is". `problems` lists what could
    not be read: such a field is None, but a list of services or locations holds the
    items that could be read, to be looked up. The service never applies a patch with
    problems: it refuses it, naming them with every other problem it finds."""

    number: str | None = None
    title: str | None = None
    description: str | None = None
    reason: str | None = None
    work_location: str | None = None
    internal_notes: str | None = None
    location_codes: tuple[str, ...] | None = None
    emergency: bool | None = None
    contact: Contact | None = None
    time_zone: str | None = None
    windows: tuple[WindowInput, ...] | None = None
    impacts: tuple[ServiceImpact, ...] | None = None
    status: str | None = None
    problems: tuple[DomainError, ...] = ()

    def failed(self, name: str) -> bool:
        """True when a problem was found in field `name` (or inside it)."""
        return any(p.field == name or p.field.startswith((f"{name}[", f"{name}.")) for p in self.problems)


class _PartlyRead(DomainErrors):
    """The problems of a list, with the items that could be read."""

    def __init__(self, errors: list[DomainError], items: tuple) -> None:
        super().__init__(errors)
        self.items = items


def parse_patch(data: dict[str, Any]) -> GcrPatch:
    """The fields of `data` as domain values. Never raises for a bad field: every problem
    found is in the patch's `problems` (GcrPatch)."""
    problems = Problems()
    for name in sorted(_shown(key) for key in data if key not in _READERS):
        problems.add(name, f"unknown field (known: {', '.join(sorted(_READERS))})")
    values = {}
    for name, read in _READERS.items():
        if data.get(name) is not None:
            try:
                values[_ATTRIBUTES.get(name, name)] = read(data[name])
            except _PartlyRead as error:
                values[_ATTRIBUTES.get(name, name)] = error.items
                problems.errors.extend(error.errors)
            except DomainError as error:
                problems.errors.extend(error.errors)
    return GcrPatch(**values, problems=tuple(problems.errors))


def _shown(key: object) -> str:
    """A field name the user wrote, safe to print."""
    text = str(key)
    return text if text.isprintable() and len(text) <= 64 else ascii(text[:64])


def _unknown_keys(item: dict, known: tuple[str, ...], field: str, problems: Problems) -> None:
    for key in sorted(_shown(k) for k in item if k not in known):
        problems.add(f"{field}.{key}", f"unknown field (known: {', '.join(known)})")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "yes", "1"):
        return True
    if str(value).lower() in ("false", "no", "0"):
        return False
    raise DomainError("emergency", f"{_short(value)!r} is not true or false")


def _codes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    if not isinstance(value, list):
        raise DomainError("locations", "must be a list of location codes")
    problems, codes = Problems(), []
    for index, code in enumerate(value, start=1):
        with problems.checking():
            codes.append(one_line(code, f"locations[{index}]", LOCATION_CODE_MAX))
    codes = [code for code in codes if code]
    if problems:
        raise _PartlyRead(problems.errors, tuple(codes))
    return tuple(codes)


def _contact(value: Any) -> Contact:
    if not isinstance(value, dict):
        raise DomainError("contact", "must be a mapping with name, email and phone")
    problems = Problems()
    _unknown_keys(value, _CONTACT_KEYS, "contact", problems)
    with problems.checking():
        contact = check_contact(value.get("name"), value.get("email"), value.get("phone"))
    problems.raise_any()
    return contact


def _zone_name(value: Any, field: str = "time_zone") -> str:
    return zone(one_line(value, field, 64, required=True), field).key


def _windows(value: Any) -> tuple[WindowInput, ...]:
    if not isinstance(value, list) or not value:
        raise DomainError("windows", "must be a list of at least one window ({start, end} or START/END)")
    problems, windows = Problems(), []
    for index, item in enumerate(value, start=1):
        with problems.checking():
            windows.append(_window(item, f"windows[{index}]"))
    problems.raise_any()
    return tuple(windows)


def _window(item: Any, field: str) -> WindowInput:
    if isinstance(item, str):  # an ISO 8601 interval, START/END
        start, sep, end = item.partition("/")
        if not sep:
            raise DomainError(field, f"{_short(item)!r} is not START/END")
        item = {"start": start, "end": end}
    if not isinstance(item, dict) or item.get("start") is None or item.get("end") is None:
        raise DomainError(field, "needs a start and an end")
    problems = Problems()
    values: dict[str, Any] = {"field": field}  # WindowInput's arguments
    _unknown_keys(item, _WINDOW_KEYS, field, problems)
    readers = {"number": _window_number, "start": _wall_or_instant, "end": _wall_or_instant, "time_zone": _zone_name}
    for name, read in readers.items():
        if item.get(name) is not None:
            with problems.checking():
                values[name] = read(item[name], f"{field}.{name}")
    problems.raise_any()
    return WindowInput(**{"number": None, **values})


def _window_number(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DomainError(field, f"{_short(value)!r} is not a window number")
    return value


def _wall_or_instant(value: Any, field: str) -> datetime:
    """A date and time as written: aware when it has an offset, else a wall time."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    text = one_line(value, field, _INSTANT_MAX, required=True)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(field, f"{text!r} is not an ISO 8601 date and time") from None


def resolve_window(item: WindowInput, time_zone: str | None) -> tuple[datetime, datetime]:
    """The window's (start, end) in UTC: wall times are read in the window's own zone,
    else in `time_zone` (the patch's or the GCR's). Raises every problem at once."""
    problems, instants = Problems(), {}
    for name in ("start", "end"):
        with problems.checking():
            instants[name] = _instant(getattr(item, name), item.time_zone or time_zone, f"{item.field}.{name}")
    problems.raise_any()
    if instants["end"] <= instants["start"]:
        raise DomainError(f"{item.field}.end", "must be after the start")
    return instants["start"], instants["end"]


def _instant(value: datetime, time_zone: str | None, field: str) -> datetime:
    try:
        return parse_instant(value, time_zone, field)
    except OverflowError:
        raise DomainError(field, f"{value:%Y-%m-%d %H:%M} is out of range") from None


def _impacts(value: Any) -> tuple[ServiceImpact, ...]:
    if not isinstance(value, list):
        raise DomainError("impacts", "must be a list of {service, impact}")
    problems, impacts = Problems(), []
    for index, item in enumerate(value, start=1):
        with problems.checking():
            impacts.append(read_impact(item, f"impacts[{index}]"))
    if problems:
        raise _PartlyRead(problems.errors, tuple(impacts))
    return tuple(impacts)


def read_impact(item: Any, field: str) -> ServiceImpact:
    """One impact: {service, impact, max_outage_minutes} or a service ID (an outage)."""
    if isinstance(item, str):
        item = {"service": item}
    if not isinstance(item, dict):
        raise DomainError(field, "must be {service, impact, max_outage_minutes} or a service ID")
    problems = Problems()
    values: dict[str, Any] = {}  # ServiceImpact's arguments
    _unknown_keys(item, _IMPACT_KEYS, field, problems)
    with problems.checking():
        values["service_id"] = one_line(
            item.get("service", item.get("service_id")), f"{field}.service", SERVICE_ID_MAX, required=True
        )
    with problems.checking():
        values["impact"] = Impact.parse(item.get("impact", "OUTAGE"), field=f"{field}.impact")
    with problems.checking():
        values["max_outage_minutes"] = _minutes(item.get("max_outage_minutes"), f"{field}.max_outage_minutes")
    problems.raise_any()
    return ServiceImpact(**values)


def _minutes(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise DomainError(field, f"{_short(value)!r} is not a whole number of minutes") from None
    if not 0 <= minutes <= MAX_OUTAGE_MINUTES_MAX:
        raise DomainError(field, f"must be from 0 to {MAX_OUTAGE_MINUTES_MAX:,} minutes")
    return minutes


def _short(value: Any) -> Any:
    """A value to quote in a message: long text is cut."""
    return value[:60] + "..." if isinstance(value, str) and len(value) > 63 else value


def _text_reader(name: str) -> Callable[[Any], str]:
    return lambda value: check_text(name, value)


_READERS: dict[str, Callable[[Any], Any]] = {
    "number": lambda value: one_line(value, "number", NUMBER_MAX, required=True),
    **{name: _text_reader(name) for name in TEXT_FIELDS},
    "locations": _codes,
    "emergency": _bool,
    "contact": _contact,
    "time_zone": _zone_name,
    "windows": _windows,
    "impacts": _impacts,
    "status": lambda value: one_line(value, "status", 20, required=True),
}
_ATTRIBUTES = {"locations": "location_codes"}
