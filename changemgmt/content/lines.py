"""Service lines as a customer's notice and calendar event show them: shared by the
email (delivery.compose) and the feeds, so the feed event and the attachment say the same."""

from __future__ import annotations

from typing import Protocol

from changemgmt.content.view import ServiceLine
from changemgmt.domain.gcr import ServiceImpact


class Place(Protocol):
    """What a line shows of a location (an inventory row, or plain columns). Read-only
    members, so that a row whose `a_end` is a Location is a Service here."""

    @property
    def code(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def region(self) -> str: ...


class Service(Protocol):
    """What a line shows of a service (an inventory row, or plain columns)."""

    @property
    def service_id(self) -> str: ...
    @property
    def product(self) -> str: ...
    @property
    def bandwidth(self) -> str: ...
    @property
    def a_end(self) -> Place | None: ...
    @property
    def z_end(self) -> Place | None: ...


def service_line(service: Service, impact: ServiceImpact) -> ServiceLine:
    """The line for `service` under `impact` (its level and maximum outage)."""
    ends = " - ".join(place(loc) for loc in (service.a_end, service.z_end) if loc is not None)
    return ServiceLine(
        service.service_id, service.product, service.bandwidth, ends, impact.impact, impact.max_outage_minutes
    )


def place(location: Place) -> str:
    """'DLLSTX01 (Dallas, TX)'."""
    where = ", ".join(filter(None, (location.city, location.region)))
    return f"{location.code} ({where})" if where else location.code
