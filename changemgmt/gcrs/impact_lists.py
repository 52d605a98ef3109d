"""Impacts given as lists rather than a document: service IDs pasted one per line or
comma separated (each as `changemgmt gcr --impact` writes one: SERVICE[:LEVEL[:MINUTES]]),
a CSV file (columns service, impact, max_outage_minutes; a header row is optional), or
every service at a location. Each returns impact items as a GCR document writes them
(gcrs/input.py reads them), or raises every problem at once, naming the line at fault."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, Problems
from changemgmt.domain.impact import Impact
from changemgmt.gcrs.input import read_impact
from changemgmt.store.models import Location, Service

MAX_CSV_BYTES = 8 * 1024 * 1024  # 100,000 services are about 3 MB
CSV_COLUMNS = ("service", "impact", "max_outage_minutes")


def flag_impact(raw: str, level: Impact = Impact.OUTAGE) -> dict[str, Any]:
    """SERVICE[:LEVEL[:MINUTES]], as `gcr --impact` and a pasted line write one."""
    service, _, rest = raw.strip().partition(":")
    given, _, minutes = rest.partition(":")
    return {"service": service.strip(), "impact": given.strip() or level.value, "max_outage_minutes": minutes or None}


def pasted_impacts(text: str, level: Impact, field: str = "services") -> list[dict[str, Any]]:
    """The impacts of pasted text: items separated by new lines, commas or semicolons."""
    problems, items = Problems(), []
    for number, line in enumerate(text.splitlines(), start=1):
        for raw in re.split(r"[,;]", line):
            if raw.strip():
                with problems.checking():
                    items.append(_checked(flag_impact(raw, level), f"{field} line {number}"))
    problems.raise_any()
    return items


def csv_impacts(data: bytes, level: Impact, field: str = "impacts_csv") -> list[dict[str, Any]]:
    """The impacts of a CSV file; a row without an impact level has `level`."""
    if len(data) > MAX_CSV_BYTES:
        raise DomainError(field, f"the file is over {MAX_CSV_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(field, "the file is not UTF-8 text (save it as CSV UTF-8)") from None
    problems, items = Problems(), []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or (number == 1 and cells[0].lower() in ("service", "service_id")):
            continue
        if len(cells) > len(CSV_COLUMNS):
            problems.add(f"{field} line {number}", f"has {len(cells)} columns; expected {', '.join(CSV_COLUMNS)}")
            continue
        cells += [""] * (len(CSV_COLUMNS) - len(cells))
        item = {"service": cells[0], "impact": cells[1] or level.value, "max_outage_minutes": cells[2] or None}
        with problems.checking():
            items.append(_checked(item, f"{field} line {number}"))
    problems.raise_any()
    return items


def location_impacts(session: Session, code: str, level: Impact, field: str = "location") -> list[dict[str, Any]]:
    """An impact on every service with an end at location `code`."""
    location = session.scalar(select(Location.id).where(Location.code == code))
    if location is None:
        raise DomainError(field, f"no location with code {code!r}")
    ends = or_(Service.a_end_id == location, Service.z_end_id == location)
    ids = session.scalars(select(Service.service_id).where(ends).order_by(Service.service_id))
    return [{"service": service_id, "impact": level.value, "max_outage_minutes": None} for service_id in ids]


def _checked(item: dict[str, Any], field: str) -> dict[str, Any]:
    """The item, once read_impact found it well formed (its problems named by `field`)."""
    try:
        read_impact(item, field)
    except DomainError as error:
        raise DomainError(field, "; ".join(e.message for e in error.errors)) from None
    return item
