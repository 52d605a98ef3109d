"""A generated inventory and one GCR impacting every service of it, for the fan-out bench.

Deterministic (one seed). Every customer owns at least one service, so a GCR over every
service reaches every customer; a twentieth of the customers are enterprises, parents of
a fifth of the others, whose contacts therefore get their children's notices too. The
rows go in with Core executemany inserts: building the world is not what we measure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, text

from changemgmt.demo.sample import CITIES, PRODUCTS, WORDS
from changemgmt.store.models import Contact, Customer, Location, Service

CHUNK = 5000
GCR_NUMBER = "GCR-900001"


@dataclass(frozen=True)
class Size:
    customers: int
    services: int
    contacts: int

    def label(self) -> str:
        return f"{self.customers:,} customers / {self.services:,} services / {self.contacts:,} contacts"


def build_inventory(engine: Engine, size: Size, seed: int = 7) -> None:
    """Inserts locations, customers (parents first), contacts and services."""
    rng = random.Random(seed)
    locations = _locations()
    customers = _customers(rng, size.customers)
    with engine.begin() as connection:
        for table, rows in (
            (Location, locations),
            (Customer, customers),
            (Contact, _contacts(rng, customers, size.contacts)),
            (Service, _services(rng, customers, len(locations), size.services)),
        ):
            for start in range(0, len(rows), CHUNK):
                connection.execute(insert(table), rows[start : start + CHUNK])
            if engine.dialect.name == "postgresql":
                name = table.__tablename__
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
                )


def _locations() -> list[dict]:
    return [
        {
            "id": n * 10 + site,
            "code": f"{prefix}{site:02d}",
            "name": f"{city} POP {site}",
            "address": f"{100 * site + 1} Main Street",
            "city": city,
            "region": region,
            "country": country,
            "time_zone": zone,
        }
        for n, (city, region, country, zone, prefix) in enumerate(CITIES)
        for site in range(1, 10)
    ]


def _customers(rng: random.Random, count: int) -> list[dict]:
    enterprises = max(1, count // 20)
    rows = []
    for number in range(1, count + 1):
        zone = rng.choice(CITIES)[3]
        if number <= enterprises:
            rows.append(
                {
                    "id": number,
                    "account": f"ENT-{number:06d}",
                    "name": f"{rng.choice(WORDS)} Group {number}",
                    "parent_id": None,
                    "time_zone": zone,
                    "active": True,
                }
            )
            continue
        parent = rng.randint(1, enterprises) if rng.random() < 0.2 else None
        rows.append(
            {
                "id": number,
                "account": f"ACC-{number:07d}",
                "name": f"{rng.choice(WORDS)} {number}",
                "parent_id": parent,
                "time_zone": zone,
                "active": True,
            }
        )
    return rows


def _contacts(rng: random.Random, customers: list[dict], count: int) -> list[dict]:
    rows = []
    for n in range(count):
        customer = customers[n % len(customers)]
        rows.append(
            {
                "customer_id": customer["id"],
                "email": f"noc{n // len(customers)}@{customer['account'].lower()}.example",
                "name": f"{customer['name']} NOC {n // len(customers)}",
                "role": "NOC",
                "notice_kinds": None,
                "min_impact": "OUTAGE" if rng.random() < 0.05 else "NO-IMPACT",
                "reminders": True,
                "unsubscribed_at": None,
                "suppressed_at": None,
            }
        )
    return rows


def _services(rng: random.Random, customers: list[dict], locations: int, count: int) -> list[dict]:
    rows = []
    for n in range(count):
        owner = customers[n] if n < len(customers) else rng.choice(customers)
        product, bandwidth = rng.choice(PRODUCTS)
        a_end = rng.randrange(locations)
        z_end = rng.randrange(locations) if product.startswith(("Ethernet", "Wave", "Dark")) else None
        rows.append(
            {
                "service_id": f"SVC-{n + 1:08d}",
                "customer_id": owner["id"],
                "product": product,
                "bandwidth": bandwidth,
                "a_end_id": _location_id(a_end),
                "z_end_id": _location_id(z_end) if z_end is not None else None,
            }
        )
    return rows


def _location_id(index: int) -> int:
    return (index // 9) * 10 + index % 9 + 1


def gcr_document(now: datetime, services: int, windows: int = 1) -> dict:
    """A GCR over every service, its windows two weeks out (past the minimum notice)."""
    start = (now + timedelta(days=14)).replace(hour=6, minute=0, second=0, microsecond=0)
    return {
        "number": GCR_NUMBER,
        "title": "Core router software upgrade, all regions",
        "description": "Upgrading the software of every core router. Traffic moves to protection paths "
        "where they exist; unprotected services see the outage given below.",
        "reason": "The current release has a defect that can restart line cards under load.",
        "work_location": "All core sites",
        "windows": [
            {"start": (start + timedelta(days=d)).isoformat(), "end": (start + timedelta(days=d, hours=4)).isoformat()}
            for d in range(windows)
        ],
        "impacts": [
            {
                "service": f"SVC-{n + 1:08d}",
                "impact": "OUTAGE" if n % 3 else "DEGRADED",
                "max_outage_minutes": 30 if n % 3 else None,
            }
            for n in range(services)
        ],
    }
