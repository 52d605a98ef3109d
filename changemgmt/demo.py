"""A realistic sample: customers across North American cities in their real time zones,
enterprise parents, contacts, thousands of services, and GCRs in every state.

The inventory rows are plain dicts of text, as a CSV file would hold them, so they go
through the same import as a customer's file. The same seed gives the same sample.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

# (city, region, country, IANA zone, CLLI-style prefix)
CITIES = [
    ("New York", "NY", "US", "America/New_York", "NYCMNY"), ("Boston", "MA", "US", "America/New_York", "BSTNMA"),
    ("Philadelphia", "PA", "US", "America/New_York", "PHLAPA"), ("Atlanta", "GA", "US", "America/New_York", "ATLNGA"),
    ("Miami", "FL", "US", "America/New_York", "MIAMFL"), ("Detroit", "MI", "US", "America/Detroit", "DTRTMI"),
    ("Indianapolis", "IN", "US", "America/Indiana/Indianapolis", "IPLSIN"),
    ("Louisville", "KY", "US", "America/Kentucky/Louisville", "LSVLKY"),
    ("Chicago", "IL", "US", "America/Chicago", "CHCGIL"), ("Dallas", "TX", "US", "America/Chicago", "DLLSTX"),
    ("Houston", "TX", "US", "America/Chicago", "HSTNTX"), ("Minneapolis", "MN", "US", "America/Chicago", "MPLSMN"),
    ("Kansas City", "MO", "US", "America/Chicago", "KSCYMO"), ("Denver", "CO", "US", "America/Denver", "DNVRCO"),
    ("Salt Lake City", "UT", "US", "America/Denver", "SLKCUT"), ("Phoenix", "AZ", "US", "America/Phoenix", "PHNXAZ"),
    ("Boise", "ID", "US", "America/Boise", "BOISID"), ("Los Angeles", "CA", "US", "America/Los_Angeles", "LSANCA"),
    ("San Jose", "CA", "US", "America/Los_Angeles", "SNJSCA"), ("Seattle", "WA", "US", "America/Los_Angeles", "STTLWA"),
    ("Portland", "OR", "US", "America/Los_Angeles", "PTLDOR"), ("Anchorage", "AK", "US", "America/Anchorage", "ANCRAK"),
    ("Honolulu", "HI", "US", "Pacific/Honolulu", "HNLLHI"), ("Toronto", "ON", "CA", "America/Toronto", "TOROON"),
    ("Montreal", "QC", "CA", "America/Toronto", "MTRLQC"), ("Winnipeg", "MB", "CA", "America/Winnipeg", "WNPGMB"),
    ("Regina", "SK", "CA", "America/Regina", "REGNSK"), ("Calgary", "AB", "CA", "America/Edmonton", "CLGRAB"),
    ("Vancouver", "BC", "CA", "America/Vancouver", "VANCBC"), ("Halifax", "NS", "CA", "America/Halifax", "HLFXNS"),
    ("St. John's", "NL", "CA", "America/St_Johns", "SJHNNL"), ("Mexico City", "CMX", "MX", "America/Mexico_City",
                                                                 "MEXCMX"),
    ("Monterrey", "NL", "MX", "America/Monterrey", "MTRYNL"), ("Tijuana", "BC", "MX", "America/Tijuana", "TJNABC"),
]
PRODUCTS = [
    ("Ethernet 1G", "1G"), ("Ethernet 10G", "10G"), ("Dedicated Internet Access", "1G"),
    ("Dedicated Internet Access", "10G"), ("Wavelength 100G", "100G"), ("MPLS VPN", "500M"),
    ("Dark Fibre", ""), ("SIP Trunk", "100 channels"),
]
WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Cyberdyne", "Soylent", "Tyrell",
         "Hooli", "Vandelay", "Pied Piper", "Gringotts", "Oscorp", "Aperture", "Monarch", "Nakatomi", "Dunder",
         "Prestige", "Sterling", "Massive", "Blue Sun", "Virtucon", "Zorg", "Duff", "Krusty", "Bluth", "Veidt"]
KINDS = ["Logistics", "Health", "Bank", "Retail", "Energy", "Media", "Foods", "Airlines", "Insurance", "Labs",
         "Hotels", "Motors", "Telecom", "University", "County Schools", "Credit Union"]
ROLES = ["NOC", "Network Engineering", "IT Operations", "Facilities", "Security Operations"]


@dataclass(frozen=True)
class Sample:
    locations: list[dict[str, str]]
    customers: list[dict[str, str]]
    contacts: list[dict[str, str]]
    services: list[dict[str, str]]


def inventory(seed: int = 7, customers: int = 300, services: int = 3000) -> Sample:
    rng = random.Random(seed)
    locations = list(_locations())
    accounts = list(_customers(rng, customers))
    return Sample(
        locations=locations,
        customers=accounts,
        contacts=list(_contacts(rng, accounts)),
        services=list(_services(rng, accounts, locations, services)),
    )


def _locations() -> Iterator[dict[str, str]]:
    for city, region, country, zone, prefix in CITIES:
        for site in (1, 2):
            yield {"code": f"{prefix}{site:02d}", "name": f"{city} POP {site}",
                   "address": f"{100 * site + 1} Main Street", "city": city, "region": region,
                   "country": country, "time_zone": zone}


def _customers(rng: random.Random, count: int) -> Iterator[dict[str, str]]:
    enterprises = max(1, count // 15)
    for number in range(1, enterprises + 1):
        city = rng.choice(CITIES)
        yield {"account": f"ENT-{number:04d}", "name": f"{rng.choice(WORDS)} {rng.choice(KINDS)} Group",
               "parent_account": "", "time_zone": city[3], "active": "true"}
    for number in range(1, count - enterprises + 1):
        city = rng.choice(CITIES)
        parent = f"ENT-{rng.randint(1, enterprises):04d}" if rng.random() < 0.4 else ""
        yield {"account": f"ACC-{100000 + number}", "name": f"{rng.choice(WORDS)} {rng.choice(KINDS)} {city[0]}",
               "parent_account": parent, "time_zone": city[3], "active": "false" if rng.random() < 0.02 else "true"}


def _contacts(rng: random.Random, customers: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    for customer in customers:
        domain = customer["name"].split()[0].lower().replace(" ", "") + customer["account"][-4:] + ".example"
        for index in range(rng.choice((1, 2, 2, 3))):
            role = ROLES[index % len(ROLES)]
            yield {"account": customer["account"], "email": f"{role.split()[0].lower()}{index}@{domain}",
                   "name": f"{customer['name'].split()[0]} {role}", "role": role, "notice_kinds": "",
                   "min_impact": "OUTAGE" if rng.random() < 0.1 else "", "reminders": "true"}


def _services(rng, customers, locations, count) -> Iterator[dict[str, str]]:
    accounts = [c["account"] for c in customers if c["account"].startswith("ACC-")]
    for number in range(1, count + 1):
        product, bandwidth = rng.choice(PRODUCTS)
        a_end = rng.choice(locations)["code"]
        z_end = rng.choice(locations)["code"] if product.startswith(("Ethernet", "Wave", "Dark")) else ""
        prefix = "".join(word[0] for word in product.split()).upper()
        yield {"service_id": f"{prefix}-{number:06d}", "account": rng.choice(accounts), "product": product,
               "bandwidth": bandwidth, "a_end": a_end, "z_end": z_end}


def gcr_documents(now: datetime, sample: Sample) -> list[tuple[dict, list[str]]]:
    """GCR documents (create input) with the status steps to take after creating each."""
    def at_site(prefix: str, limit: int) -> list[dict]:
        ids = [s["service_id"] for s in sample.services if s["a_end"].startswith(prefix)][:limit]
        return [{"service": sid, "impact": "OUTAGE" if i % 3 else "DEGRADED", "max_outage_minutes": 30}
                for i, sid in enumerate(ids)]

    def window(days: float, hours: int = 4) -> dict:
        start = (now + timedelta(days=days)).replace(hour=6, minute=0, second=0, microsecond=0)
        return {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}

    base = 260000 + now.timetuple().tm_yday * 10
    plans = [
        ("Fibre splice on the Dallas metro ring", "DLLSTX", 14, ["confirmed"], False),
        ("Router software upgrade, Chicago core", "CHCGIL", 10, ["tentative"], False),
        ("Power plant maintenance, Toronto POP", "TOROON", 21, [], False),
        ("Emergency card replacement, Denver", "DNVRCO", 1, ["confirmed"], True),
        ("Optical amplifier replacement, Seattle", "STTLWA", -0.1, ["confirmed", "in_progress"], False),
        ("DWDM re-grooming, Los Angeles", "LSANCA", -3, ["confirmed", "in_progress", "completed"], False),
        ("Generator test, Mexico City", "MEXCMX", 12, ["confirmed", "cancelled"], False),
    ]
    documents = []
    for index, (title, site, days, steps, emergency) in enumerate(plans):
        documents.append(({
            "number": f"GCR-{base + index}",
            "title": title,
            "description": f"{title}. Traffic will be moved to protection paths where they exist.",
            "reason": "Preventive maintenance to keep the network within its engineering limits.",
            "work_location": title.rsplit(",", 1)[-1].strip() if "," in title else site,
            "emergency": emergency,
            "windows": [window(days)] + ([window(days + 1)] if index == 0 else []),
            "impacts": at_site(site, 40),
        }, steps))
    return documents
