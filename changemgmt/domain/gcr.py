"""A GCR as plain data, its validation, and what counts as a customer-visible change."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from changemgmt.domain.errors import DomainError
from changemgmt.domain.impact import Impact
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window, check_windows

TITLE_MAX = 200

# Fields a customer's notice or feed event shows; a change to any is a new revision.
CUSTOMER_VISIBLE = frozenset(
    {"title", "description", "reason", "work_location", "location_codes", "contact", "emergency",
     "status", "windows", "impacts"}
)
INTERNAL_ONLY = frozenset({"internal_notes"})


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

    def canonical(self) -> "GcrState":
        return replace(
            self,
            location_codes=tuple(sorted(set(self.location_codes))),
            windows=tuple(sorted(self.windows, key=lambda w: w.number)),
            impacts=in_service_order(self.impacts),
        )

    def to_json(self) -> dict:
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
    def from_json(cls, data: dict) -> "GcrState":
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


def check_number(number: str, pattern: re.Pattern[str]) -> str:
    number = str(number).strip()
    if not pattern.fullmatch(number):
        raise DomainError("number", f"{number!r} is not a GCR number (expected pattern {pattern.pattern})")
    return number


def check_title(title: str) -> str:
    if "\r" in title or "\n" in title:
        raise DomainError("title", "must be one line (no CR or LF)")
    title = title.strip()
    if not title:
        raise DomainError("title", "must not be empty")
    if len(title) > TITLE_MAX:
        raise DomainError("title", f"must be at most {TITLE_MAX} characters")
    return title


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
