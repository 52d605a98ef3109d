"""A realistic sample: customers across North American cities in their real time zones,
enterprise parents, contacts, thousands of services, and the history of a few weeks of
change management that leaves GCRs in every state.

The inventory rows are plain dicts of text, as a CSV file would hold them, so they go
through the same import as a customer's file. The same seed gives the same sample.

The history is a script of steps, each at its own moment before `now`, as a change
manager would have taken them: routine work published well over the minimum notice
(7 days) before its window, started at its window's start and completed hours later;
one emergency, published two hours before its window. `changemgmt.demo.replay` performs it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# (city, region, country, IANA zone, CLLI-style prefix)
CITIES = [
    ("New York", "NY", "US", "America/New_York", "NYCMNY"),
    ("Boston", "MA", "US", "America/New_York", "BSTNMA"),
    ("Philadelphia", "PA", "US", "America/New_York", "PHLAPA"),
    ("Atlanta", "GA", "US", "America/New_York", "ATLNGA"),
    ("Miami", "FL", "US", "America/New_York", "MIAMFL"),
    ("Detroit", "MI", "US", "America/Detroit", "DTRTMI"),
    ("Indianapolis", "IN", "US", "America/Indiana/Indianapolis", "IPLSIN"),
    ("Louisville", "KY", "US", "America/Kentucky/Louisville", "LSVLKY"),
    ("Chicago", "IL", "US", "America/Chicago", "CHCGIL"),
    ("Dallas", "TX", "US", "America/Chicago", "DLLSTX"),
    ("Houston", "TX", "US", "America/Chicago", "HSTNTX"),
    ("Minneapolis", "MN", "US", "America/Chicago", "MPLSMN"),
    ("Kansas City", "MO", "US", "America/Chicago", "KSCYMO"),
    ("Denver", "CO", "US", "America/Denver", "DNVRCO"),
    ("Salt Lake City", "UT", "US", "America/Denver", "SLKCUT"),
    ("Phoenix", "AZ", "US", "America/Phoenix", "PHNXAZ"),
    ("Boise", "ID", "US", "America/Boise", "BOISID"),
    ("Los Angeles", "CA", "US", "America/Los_Angeles", "LSANCA"),
    ("San Jose", "CA", "US", "America/Los_Angeles", "SNJSCA"),
    ("Seattle", "WA", "US", "America/Los_Angeles", "STTLWA"),
    ("Portland", "OR", "US", "America/Los_Angeles", "PTLDOR"),
    ("Anchorage", "AK", "US", "America/Anchorage", "ANCRAK"),
    ("Honolulu", "HI", "US", "Pacific/Honolulu", "HNLLHI"),
    ("Toronto", "ON", "CA", "America/Toronto", "TOROON"),
    ("Montreal", "QC", "CA", "America/Toronto", "MTRLQC"),
    ("Winnipeg", "MB", "CA", "America/Winnipeg", "WNPGMB"),
    ("Regina", "SK", "CA", "America/Regina", "REGNSK"),
    ("Calgary", "AB", "CA", "America/Edmonton", "CLGRAB"),
    ("Vancouver", "BC", "CA", "America/Vancouver", "VANCBC"),
    ("Halifax", "NS", "CA", "America/Halifax", "HLFXNS"),
    ("St. John's", "NL", "CA", "America/St_Johns", "SJHNNL"),
    ("Mexico City", "CMX", "MX", "America/Mexico_City", "MEXCMX"),
    ("Monterrey", "NL", "MX", "America/Monterrey", "MTRYNL"),
    ("Tijuana", "BC", "MX", "America/Tijuana", "TJNABC"),
]
PRODUCTS = [
    ("Ethernet 1G", "1G"),
    ("Ethernet 10G", "10G"),
    ("Dedicated Internet Access", "1G"),
    ("Dedicated Internet Access", "10G"),
    ("Wavelength 100G", "100G"),
    ("MPLS VPN", "500M"),
    ("Dark Fibre", ""),
    ("SIP Trunk", "100 channels"),
]
WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Hooli",
    "Vandelay",
    "Pied Piper",
    "Gringotts",
    "Oscorp",
    "Aperture",
    "Monarch",
    "Nakatomi",
    "Dunder",
    "Prestige",
    "Sterling",
    "Massive",
    "Blue Sun",
    "Virtucon",
    "Zorg",
    "Duff",
    "Krusty",
    "Bluth",
    "Veidt",
]
KINDS = [
    "Logistics",
    "Health",
    "Bank",
    "Retail",
    "Energy",
    "Media",
    "Foods",
    "Airlines",
    "Insurance",
    "Labs",
    "Hotels",
    "Motors",
    "Telecom",
    "University",
    "County Schools",
    "Credit Union",
]
# Service IDs are numbered per product family: ETH-000001, DIA-000001, ...
FAMILIES = {"Ethernet": "ETH", "Dedicated": "DIA", "Wavelength": "WAVE", "MPLS": "MPLS", "Dark": "DF", "SIP": "SIP"}
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
            yield {
                "code": f"{prefix}{site:02d}",
                "name": f"{city} POP {site}",
                "address": f"{100 * site + 1} Main Street",
                "city": city,
                "region": region,
                "country": country,
                "time_zone": zone,
            }


# The provider's account leads, each the single point of contact of a share of the
# accounts (assigned in turn, not drawn: the sample's random draws stay as they were).
LEADS = (
    ("Dana Whitfield", "dana.whitfield@example.net", "+1 214 555 0142"),
    ("Marcus Oyelaran", "marcus.oyelaran@example.net", "+1 312 555 0178"),
    ("Priya Raman", "priya.raman@example.net", "+1 415 555 0136"),
    ("Sofia Lindqvist", "sofia.lindqvist@example.net", "+1 646 555 0191"),
)


def _lead(number: int) -> dict[str, str]:
    name, email, phone = LEADS[number % len(LEADS)]
    return {"lead_name": name, "lead_email": email, "lead_phone": phone}


def _customers(rng: random.Random, count: int) -> Iterator[dict[str, str]]:
    enterprises = max(1, count // 15)
    for number in range(1, enterprises + 1):
        city = rng.choice(CITIES)
        yield {
            "account": f"ENT-{number:04d}",
            "name": f"{rng.choice(WORDS)} {rng.choice(KINDS)} Group",
            "parent_account": "",
            "time_zone": city[3],
            "active": "true",
            **_lead(number),
        }
    for number in range(1, count - enterprises + 1):
        city = rng.choice(CITIES)
        parent = f"ENT-{rng.randint(1, enterprises):04d}" if rng.random() < 0.4 else ""
        yield {
            "account": f"ACC-{100000 + number}",
            "name": f"{rng.choice(WORDS)} {rng.choice(KINDS)} {city[0]}",
            "parent_account": parent,
            "time_zone": city[3],
            "active": "false" if rng.random() < 0.02 else "true",
            **_lead(number),
        }


def _contacts(rng: random.Random, customers: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    for customer in customers:
        domain = customer["name"].split()[0].lower().replace(" ", "") + customer["account"][-4:] + ".example"
        for index in range(rng.choice((1, 2, 2, 3))):
            role = ROLES[index % len(ROLES)]
            yield {
                "account": customer["account"],
                "email": f"{role.split()[0].lower()}{index}@{domain}",
                "name": f"{customer['name'].split()[0]} {role}",
                "role": role,
                "notice_kinds": "",
                "min_impact": "OUTAGE" if rng.random() < 0.1 else "",
                "reminders": "true",
            }


def _services(rng, customers, locations, count) -> Iterator[dict[str, str]]:
    accounts = [c["account"] for c in customers if c["account"].startswith("ACC-")]
    numbers: dict[str, int] = {}
    for _ in range(count):
        product, bandwidth = rng.choice(PRODUCTS)
        a_end = rng.choice(locations)["code"]
        z_end = rng.choice(locations)["code"] if product.startswith(("Ethernet", "Wave", "Dark")) else ""
        family = FAMILIES[product.split()[0]]
        numbers[family] = numbers.get(family, 0) + 1
        yield {
            "service_id": f"{family}-{numbers[family]:06d}",
            "account": rng.choice(accounts),
            "product": product,
            "bandwidth": bandwidth,
            "a_end": a_end,
            "z_end": z_end,
        }


@dataclass(frozen=True)
class Step:
    """One action of the history: `create` or `update` with `document` (GCR input, as a
    file would hold it), or a status change to `status`, at the moment `at`."""

    at: datetime
    number: str
    action: str  # create | update | status
    document: dict[str, Any] = field(default_factory=dict)
    status: str = ""


NUMBERS = {
    "completed": "GCR-5001",
    "in_progress": "GCR-5002",
    "rescheduled": "GCR-5003",
    "tentative": "GCR-5004",
    "draft": "GCR-5005",
    "emergency": "GCR-5006",
    "cancelled": "GCR-5007",
}


def history(now: datetime, sample: Sample) -> list[Step]:
    """The sample's GCRs and what was done to them, in the order it was done. Every step
    is before `now`; moments are whole minutes, in UTC."""
    now = now.astimezone(UTC).replace(second=0, microsecond=0)
    steps = [
        *_completed(now, sample),
        *_in_progress(now, sample),
        *_rescheduled(now, sample),
        *_tentative(now, sample),
        *_draft(now, sample),
        *_emergency(now, sample),
        *_cancelled(now, sample),
    ]
    return sorted(steps, key=lambda step: step.at)


class _Site:
    """A city of the sample, where a GCR's work happens, in its own time zone."""

    def __init__(self, prefix: str, now: datetime) -> None:
        city = next(c for c in CITIES if c[4] == prefix)
        self.prefix, self.city, self.zone, self.now = prefix, city[0], ZoneInfo(city[3]), now

    def local(self, days: int, hour: int, minute: int = 0) -> datetime:
        """`hour`:`minute` local time, `days` days after today (here), in UTC."""
        day: date = self.now.astimezone(self.zone).date() + timedelta(days=days)
        return datetime.combine(day, time(hour, minute), self.zone).astimezone(UTC)

    def night(self, days: int, hours: int = 4) -> dict[str, str]:
        """A window from local midnight `days` days after today."""
        start = self.local(days, 0)
        return {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}


def _document(
    number: str,
    title: str,
    site: _Site,
    sample: Sample,
    windows: list[dict],
    *,
    emergency: bool = False,
    reason: str = "",
) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"{title}, {site.city}",
        "description": f"{title} at our {site.city} POP. Traffic is moved to protection paths where they exist; "
        "unprotected services are down for up to 30 minutes during the window.",
        "reason": reason or "Preventive maintenance to keep the network within its engineering limits.",
        "work_location": f"{site.city} POP 1",
        "locations": [f"{site.prefix}01"],
        "time_zone": str(site.zone),
        "emergency": emergency,
        "windows": windows,
        "impacts": _impacts(sample, site.prefix),
    }


def _impacts(sample: Sample, prefix: str, count: int = 25) -> list[dict[str, Any]]:
    """The first `count` services starting at the site (in a sample too small to have
    any there, the first ones anywhere): two in three down for up to 30 minutes, the
    others degraded."""
    at_site = [s["service_id"] for s in sample.services if s["a_end"].startswith(prefix)]
    chosen = at_site[:count] or [s["service_id"] for s in sample.services[:count]]
    return [
        {"service": service, "impact": "OUTAGE" if i % 3 else "DEGRADED", "max_outage_minutes": 30}
        for i, service in enumerate(chosen)
    ]


def _completed(now: datetime, sample: Sample) -> list[Step]:
    """Published 20 days ago for a window 3 nights ago; done in 3 h 20 min of it."""
    site, number = _Site("LSANCA", now), NUMBERS["completed"]
    window = site.night(-3)
    start = datetime.fromisoformat(window["start"])
    return [
        Step(site.local(-22, 14), number, "create", _document(number, "DWDM re-grooming", site, sample, [window])),
        Step(site.local(-20, 10), number, "status", status="confirmed"),
        Step(start, number, "status", status="in_progress"),
        Step(start + timedelta(hours=3, minutes=20), number, "status", status="completed"),
    ]


def _in_progress(now: datetime, sample: Sample) -> list[Step]:
    """Published 10 days ago; its window began an hour or so ago."""
    site, number = _Site("STTLWA", now), NUMBERS["in_progress"]
    start = now.replace(minute=0) - timedelta(hours=1)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat()}
    return [
        Step(
            site.local(-11, 15),
            number,
            "create",
            _document(number, "Optical amplifier replacement", site, sample, [window]),
        ),
        Step(site.local(-10, 9, 30), number, "status", status="confirmed"),
        Step(start, number, "status", status="in_progress"),
    ]


def _rescheduled(now: datetime, sample: Sample) -> list[Step]:
    """Two nights of work, published tentative, confirmed, then moved four days later."""
    site, number = _Site("DLLSTX", now), NUMBERS["rescheduled"]
    first = [site.night(10), site.night(11)]
    moved = [{"number": 1, **site.night(14)}, {"number": 2, **site.night(15)}]
    return [
        Step(
            site.local(-9, 11),
            number,
            "create",
            _document(
                number,
                "Fibre splice on the metro ring",
                site,
                sample,
                first,
                reason="A road crew damaged the cable; the temporary repair must be made permanent.",
            ),
        ),
        Step(site.local(-8, 10), number, "status", status="tentative"),
        Step(site.local(-5, 16), number, "status", status="confirmed"),
        Step(site.local(-2, 9), number, "update", {"windows": moved}),
    ]


def _tentative(now: datetime, sample: Sample) -> list[Step]:
    site, number = _Site("CHCGIL", now), NUMBERS["tentative"]
    return [
        Step(
            site.local(-2, 13),
            number,
            "create",
            _document(number, "Router software upgrade", site, sample, [site.night(10)]),
        ),
        Step(site.local(-1, 11), number, "status", status="tentative"),
    ]


def _draft(now: datetime, sample: Sample) -> list[Step]:
    site, number = _Site("TOROON", now), NUMBERS["draft"]
    return [
        Step(
            now - timedelta(hours=3),
            number,
            "create",
            _document(number, "Power plant maintenance", site, sample, [site.night(21)]),
        )
    ]


def _emergency(now: datetime, sample: Sample) -> list[Step]:
    """A failing line card, found this morning: published at once for a window two hours on."""
    site, number = _Site("DNVRCO", now), NUMBERS["emergency"]
    start = now.replace(minute=0) + timedelta(hours=2)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    return [
        Step(
            now - timedelta(hours=2),
            number,
            "create",
            _document(
                number,
                "Emergency line card replacement",
                site,
                sample,
                [window],
                emergency=True,
                reason="A line card is failing; it must be replaced before it fails outright.",
            ),
        ),
        Step(now - timedelta(hours=1, minutes=45), number, "status", status="confirmed"),
    ]


def _cancelled(now: datetime, sample: Sample) -> list[Step]:
    site, number = _Site("MEXCMX", now), NUMBERS["cancelled"]
    return [
        Step(
            site.local(-14, 12),
            number,
            "create",
            _document(number, "Generator load test", site, sample, [site.night(12)]),
        ),
        Step(site.local(-12, 10), number, "status", status="confirmed"),
        Step(site.local(-1, 15), number, "status", status="cancelled"),
    ]
