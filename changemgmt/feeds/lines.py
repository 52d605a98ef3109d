"""Service lines as a customer's notice and calendar event show them: shared by the
email (notify.compose) and the feeds, so the feed event and the attachment say the same."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from changemgmt.notify.view import ServiceLine
from changemgmt.store.models import Location, Service


def service_line(service: Service, impact) -> ServiceLine:
    """`impact` is a ServiceImpact (its .impact and .max_outage_minutes)."""
    ends = " - ".join(place(loc) for loc in (service.a_end, service.z_end) if loc is not None)
    return ServiceLine(service.service_id, service.product, service.bandwidth, ends, impact.impact,
                       impact.max_outage_minutes)


def place(location: Location) -> str:
    """'DLLSTX01 (Dallas, TX)'."""
    where = ", ".join(filter(None, (location.city, location.region)))
    return f"{location.code} ({where})" if where else location.code


def services_by_customer(session: Session, customer_ids: Collection[int]) -> dict[int, dict[str, Service]]:
    """Each customer's services by service ID, with their locations loaded."""
    query = (select(Service).where(Service.customer_id.in_(customer_ids))
             .options(joinedload(Service.a_end), joinedload(Service.z_end)))
    owned: dict[int, dict[str, Service]] = defaultdict(dict)
    for service in session.scalars(query):
        owned[service.customer_id][service.service_id] = service
    return owned
