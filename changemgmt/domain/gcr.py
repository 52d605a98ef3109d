"""A GCR as plain data, its validation, and what counts as a customer-visible change."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from changemgmt.domain.errors import DomainError, Problems
from changemgmt.domain.impact import Impact
from changemgmt.domain.status import Status
from changemgmt.domain.text import (
    DESCRIPTION_MAX,
    NAME_MAX,
    NOTES_MAX,
    PHONE_MAX,
    REASON_MAX,
    TITLE_MAX,
    WORK_LOCATION_MAX,
    display_name,
    email_address,
    multi_line,
    one_line,
)
from changemgmt.domain.windows import Window, check_windows

# Limits of what a GCR refers to, as the database stores them (README, "Limits").
NUMBER_MAX = 64
LOCATION_CODE_MAX = 64
SERVICE_ID_MAX = 100
MAX_OUTAGE_MINUTES_MAX = 525_600  # a year

# The GCR's free-text fields and their length limits. Multi-line fields keep LF and TAB;
# one-line fields (and the contact's) refuse every control character (domain/text.py).
MULTI_LINE_FIELDS = {"description": DESCRIPTION_MAX, "reason": REASON_MAX, "internal_notes": NOTES_MAX}
ONE_LINE_FIELDS = {"title": TITLE_MAX, "work_location": WORK_LOCATION_MAX}
TEXT_FIELDS = tuple(ONE_LINE_FIELDS) + tuple(MULTI_LINE_FIELDS)

# Fields a customer's notice or feed event shows; a change to any is a new revision.
CUSTOMER_VISIBLE = frozenset(
    {
        "title",
        "description",
        "reason",
        "work_location",
        "location_codes",
        "contact",
        "emergency",
        "status",
        "windows",
        "impacts",
    }
)
# `time_zone` is how window times written without an offset are read: never shown.
INTERNAL_ONLY = frozenset({"internal_notes", "time_zone"})


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str = ""


@dataclass(frozen=True)
class ServiceImpact:
    service_id: str
    impact: Impact
    max_outage_minutes: int | None = None


def in_service_order(impacts: Iterable[ServiceImpact]) -> tuple[ServiceImpact, ...]:
    """Impacts in the order a GcrState keeps them: by service ID, compared in Python (a
    database's collation may order them otherwise)."""
    return tuple(sorted(impacts, key=lambda i: i.service_id))


@dataclass(frozen=True)
class GcrState:
    """Everything a revision records about a GCR, in a canonical order."""

    number: str
    title: str
    description: str
    status: Status = Status.DRAFT
    reason: str = ""
    work_location: str = ""
    location_codes: tuple[str, ...] = ()
    contact: Contact | None = None
    emergency: bool = False
    internal_notes: str = ""
    windows: tuple[Window, ...] = ()
    impacts: tuple[ServiceImpact, ...] = field(default=())
    time_zone: str | None = None

    def canonical(self) -> GcrState:
        return replace(
            self,
            location_codes=tuple(sorted(set(self.location_codes))),
            windows=tuple(sorted(self.windows, key=lambda w: w.number)),
            impacts=in_service_order(self.impacts),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self.canonical())
        data["status"] = self.status.value
        data["windows"] = [
            {"number": w.number, "start": _iso(w.start), "end": _iso(w.end)} for w in self.canonical().windows
        ]
        data["impacts"] = [
            {"service_id": i.service_id, "impact": i.impact.value, "max_outage_minutes": i.max_outage_minutes}
            for i in self.canonical().impacts
        ]
        data["location_codes"] = list(data["location_codes"])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GcrState:
        contact = data.get("contact")
        return cls(
            number=data["number"],
            title=data["title"],
            description=data["description"],
            status=Status(data["status"]),
            reason=data.get("reason", ""),
            work_location=data.get("work_location", ""),
            location_codes=tuple(data.get("location_codes", ())),
            contact=Contact(**contact) if contact else None,
            emergency=bool(data.get("emergency", False)),
            internal_notes=data.get("internal_notes", ""),
            time_zone=data.get("time_zone"),
            windows=tuple(
                Window(w["number"], datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
                for w in data.get("windows", ())
            ),
            impacts=tuple(
                ServiceImpact(i["service_id"], Impact(i["impact"]), i.get("max_outage_minutes"))
                for i in data.get("impacts", ())
            ),
        )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def check_number(number: object, pattern: re.Pattern[str]) -> str:
    number = one_line(number, "number", NUMBER_MAX, required=True)
    if not pattern.fullmatch(number):
        raise DomainError("number", f"{number!r} is not a GCR number (expected pattern {pattern.pattern})")
    return number


def check_title(title: object) -> str:
    """The title without surrounding whitespace: one line, not empty, at most TITLE_MAX."""
    return one_line(title, "title", TITLE_MAX, required=True)


def check_text(name: str, value: object) -> str:
    """The text field `name` (one of TEXT_FIELDS) as stored, or DomainError naming it."""
    if name == "title":
        return check_title(value)
    if name in MULTI_LINE_FIELDS:
        return multi_line(value, name, MULTI_LINE_FIELDS[name])
    return one_line(value, name, ONE_LINE_FIELDS[name])


def check_contact(name: object, email: object, phone: object) -> Contact:
    """The contact for questions: a display name (never an encoded word), a valid
    address, a one-line phone. Raises every problem at once."""
    problems = Problems()
    checked = {}
    with problems.checking():
        checked["name"] = display_name(name, "contact.name", NAME_MAX)
    with problems.checking():
        checked["email"] = email_address(email, "contact.email")
    with problems.checking():
        checked["phone"] = one_line(phone, "contact.phone", PHONE_MAX)
    problems.raise_any()
    return Contact(**checked)


def check_state(state: GcrState, pattern: re.Pattern[str]) -> None:
    """Raises DomainError for the first rule the state breaks."""
    check_details(state, pattern)
    seen: set[str] = set()
    for item in state.impacts:
        if item.service_id in seen:
            raise DomainError(f"impacts[{item.service_id}]", "service listed twice")
        seen.add(item.service_id)
        if item.max_outage_minutes is not None and item.max_outage_minutes < 0:
            raise DomainError(f"impacts[{item.service_id}].max_outage_minutes", "must not be negative")
    check_published_impacts(state.status, has_impacts=bool(state.impacts))


def check_details(state: GcrState, pattern: re.Pattern[str]) -> None:
    """Raises DomainError for the first rule the state breaks, its impacts aside."""
    check_number(state.number, pattern)
    check_title(state.title)
    if not state.description.strip():
        raise DomainError("description", "must describe the work")
    check_windows(list(state.windows))


def check_published_impacts(status: Status, has_impacts: bool) -> None:
    if status.is_published and not has_impacts:
        raise DomainError("impacts", "a published GCR needs at least one impacted service")


def changed_fields(old: GcrState, new: GcrState) -> frozenset[str]:
    """Names the fields whose values differ between two states."""
    a, b = old.canonical(), new.canonical()
    names = CUSTOMER_VISIBLE | INTERNAL_ONLY
    return frozenset(name for name in names if getattr(a, name) != getattr(b, name))


def is_customer_visible(changes: frozenset[str]) -> bool:
    """True when a change needs a new revision (and so may notify customers)."""
    return bool(changes & CUSTOMER_VISIBLE)
