"""The inventory rows the feeds show of each customer's services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from changemgmt.store.models import Service


def services_by_customer(session: Session, customer_ids: Collection[int]) -> dict[int, dict[str, Service]]:
    """Each customer's services by service ID, with their locations loaded."""
    query = (
        select(Service)
        .where(Service.customer_id.in_(customer_ids))
        .options(joinedload(Service.a_end), joinedload(Service.z_end))
    )
    owned: dict[int, dict[str, Service]] = defaultdict(dict)
    for service in session.scalars(query):
        owned[service.customer_id][service.service_id] = service
    return owned
