"""What one customer is shown of a GCR, reduced to digests that say whether it changed.

A customer sees the GCR-wide fields, the windows, and only its own services. Two
digests: one of the windows (a change there is a reschedule) and one of the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache

from changemgmt.domain.gcr import GcrState, ServiceImpact
from changemgmt.domain.windows import Window


@dataclass(frozen=True)
class Digest:
    windows: str
    content: str


def _hash(value: object) -> str:
    return _hash_text(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str))


def _hash_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def own_impacts(state: GcrState, service_ids: Collection[str]) -> list[ServiceImpact]:
    return [i for i in state.impacts if i.service_id in service_ids]


def customer_digest(state: GcrState, service_ids: Collection[str]) -> Digest:
    """Digests of what this customer's notice says at `state`: of the windows, and of the
    GCR-wide fields followed by the customer's own impacts, as one JSON list."""
    return own_digest(state, own_impacts(state, service_ids))


def own_digest(state: GcrState, impacts: Iterable[ServiceImpact]) -> Digest:
    """customer_digest of a customer whose impacts at `state` are `impacts`, in service ID
    order (as reads.scope_of has them): those of `state` are not looked at."""
    contact = state.contact and (state.contact.name, state.contact.email, state.contact.phone)
    shared = _shared_fields(
        state.title,
        state.description,
        state.reason,
        state.work_location,
        tuple(state.location_codes),
        contact,
        state.status.value,
        state.emergency,
    )
    own = [[i.service_id, i.impact.value, i.max_outage_minutes] for i in impacts]
    return Digest(
        windows=_windows_digest(tuple(state.windows)),
        content=_hash_text(f"{shared},{json.dumps(own, separators=(',', ':'))}]"),
    )


# Planning digests every customer of a GCR against the same state: what all of them share
# is written (and the windows hashed) once, not once per customer.
@lru_cache(maxsize=16)
def _shared_fields(
    title: str,
    description: str,
    reason: str,
    work_location: str,
    location_codes: tuple[str, ...],
    contact: tuple[str, str, str] | None,
    status: str,
    emergency: bool,
) -> str:
    """The JSON of the shared fields, as the opening of the content list (no closing "]")."""
    fields = [
        title,
        description,
        reason,
        work_location,
        list(location_codes),
        contact and list(contact),
        status,
        emergency,
    ]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)[:-1]


@lru_cache(maxsize=16)
def _windows_digest(windows: tuple[Window, ...]) -> str:
    return _hash(_windows(windows))


def _windows(windows: tuple[Window, ...]) -> list[list[object]]:
    return [[w.number, w.start.isoformat(), w.end.isoformat()] for w in sorted(windows, key=lambda w: w.number)]


def event_digest(content: str, window: Window, cancelled: bool, ical_status: str) -> str:
    """Digest of one calendar event (one window for one customer)."""
    return _hash([content, window.start.isoformat(), window.end.isoformat(), cancelled, ical_status])
