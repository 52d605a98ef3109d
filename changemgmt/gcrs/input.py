"""GCR input as the user writes it (a JSON/YAML document or CLI flags) turned into domain
values. Every error names the field at fault.

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
    impacts:
      - {service: SVC-1, impact: OUTAGE, max_outage_minutes: 30}
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from changemgmt.domain.errors import DomainError
from changemgmt.domain.gcr import Contact, ServiceImpact, check_title
from changemgmt.domain.impact import Impact
from changemgmt.domain.windows import parse_instant

TEXT_FIELDS = ("title", "description", "reason", "work_location", "internal_notes")
KNOWN_FIELDS = frozenset(
    TEXT_FIELDS + ("number", "locations", "emergency", "contact", "time_zone", "windows", "impacts", "status")
)


@dataclass(frozen=True)
class WindowInput:
    """A window as entered; `number` is None for a new window."""

    number: int | None
    start: Any
    end: Any


@dataclass(frozen=True)
class GcrPatch:
    """The fields a user gave; None means "leave as it is"."""

    number: str | None = None
    title: str | None = None
    description: str | None = None
    reason: str | None = None
    work_location: str | None = None
    internal_notes: str | None = None
    location_codes: tuple[str, ...] | None = None
    emergency: bool | None = None
    contact: Contact | None = None
    windows: tuple[WindowInput, ...] | None = None
    impacts: tuple[ServiceImpact, ...] | None = None
    status: str | None = None


def load_document(path: str | Path) -> dict[str, Any]:
    """Reads a JSON or YAML file (by its suffix; YAML reads JSON too)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DomainError("file", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DomainError("file", f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise DomainError("file", f"{path} must hold one mapping of GCR fields")
    return data


def parse_patch(data: dict[str, Any]) -> GcrPatch:
    unknown = sorted(set(data) - KNOWN_FIELDS)
    if unknown:
        raise DomainError(unknown[0], f"unknown field (known: {', '.join(sorted(KNOWN_FIELDS))})")
    texts = {name: _text(data, name) for name in TEXT_FIELDS if data.get(name) is not None}
    if "title" in texts:
        texts["title"] = check_title(texts["title"])
    tz_name = data.get("time_zone")
    return GcrPatch(
        number=str(data["number"]).strip() if data.get("number") is not None else None,
        location_codes=_codes(data["locations"]) if data.get("locations") is not None else None,
        emergency=_bool(data, "emergency") if data.get("emergency") is not None else None,
        contact=_contact(data["contact"]) if data.get("contact") is not None else None,
        windows=_windows(data["windows"], tz_name) if data.get("windows") is not None else None,
        impacts=_impacts(data["impacts"]) if data.get("impacts") is not None else None,
        status=str(data["status"]) if data.get("status") is not None else None,
        **texts,
    )


def _text(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, (str, int, float)):
        raise DomainError(name, "must be text")
    return str(value).strip()


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data[name]
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "yes", "1"):
        return True
    if str(value).lower() in ("false", "no", "0"):
        return False
    raise DomainError(name, f"{value!r} is not true or false")


def _codes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part for part in value.replace(";", ",").split(",")]
    if not isinstance(value, list):
        raise DomainError("locations", "must be a list of location codes")
    return tuple(str(code).strip() for code in value if str(code).strip())


def _contact(value: Any) -> Contact:
    if not isinstance(value, dict):
        raise DomainError("contact", "must be a mapping with name, email and phone")
    email = str(value.get("email", "")).strip()
    if "@" not in email:
        raise DomainError("contact.email", f"{email!r} is not an email address")
    return Contact(name=str(value.get("name", "")).strip(), email=email, phone=str(value.get("phone", "")).strip())


def _windows(value: Any, tz_name: str | None) -> tuple[WindowInput, ...]:
    if not isinstance(value, list) or not value:
        raise DomainError("windows", "must be a list of at least one {start, end}")
    windows = []
    for index, item in enumerate(value, start=1):
        field = f"windows[{index}]"
        if not isinstance(item, dict) or "start" not in item or "end" not in item:
            raise DomainError(field, "needs start and end")
        zone = item.get("time_zone", tz_name)
        number = item.get("number")
        if number is not None and (not isinstance(number, int) or number < 1):
            raise DomainError(f"{field}.number", f"{number!r} is not a window number")
        start = parse_instant(item["start"], zone, f"{field}.start")
        end = parse_instant(item["end"], zone, f"{field}.end")
        if end <= start:
            raise DomainError(f"{field}.end", "must be after the start")
        windows.append(WindowInput(number, start, end))
    return tuple(windows)


def _impacts(value: Any) -> tuple[ServiceImpact, ...]:
    if not isinstance(value, list):
        raise DomainError("impacts", "must be a list of {service, impact}")
    impacts = []
    for index, item in enumerate(value, start=1):
        field = f"impacts[{index}]"
        if isinstance(item, str):
            item = {"service": item}
        if not isinstance(item, dict) or not str(item.get("service", item.get("service_id", ""))).strip():
            raise DomainError(f"{field}.service", "needs a service ID")
        service = str(item.get("service", item.get("service_id"))).strip()
        level = Impact.parse(item.get("impact", "OUTAGE"), field=f"{field}.impact")
        impacts.append(ServiceImpact(service, level, _minutes(item.get("max_outage_minutes"), field)))
    return tuple(impacts)


def _minutes(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise DomainError(f"{field}.max_outage_minutes", f"{value!r} is not a whole number of minutes") from None
    if minutes < 0:
        raise DomainError(f"{field}.max_outage_minutes", "must not be negative")
    return minutes
