"""Instants as people read them: in a customer's zone and in UTC (SPEC §4).

Shared by the email templates and the iCalendar DESCRIPTION so both say the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = UTC


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(value: datetime) -> str:
    # Names by hand: strftime's %a and %b follow the process locale.
    return f"{_DAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def zone_abbreviation(value: datetime) -> str:
    """'CST', 'CEST', or 'UTC+03' where the zone has no letters for itself."""
    name = value.tzname() or ""
    if name and name[0] in "+-":
        return f"UTC{name}"
    return name


def require_aware(value: datetime, what: str = "time") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must carry a time zone, got naive {value.isoformat()}")
    return value


def local_and_utc(instant: datetime, zone_name: str) -> str:
    """'Tue 1 Dec 2026 01:00 CST (07:00 UTC)'; the UTC day is named when it differs."""
    return _local_and_utc(require_aware(instant).astimezone(UTC), zone_name)


# A fan-out writes the same few windows for thousands of customers in a handful of zones:
# each (instant, zone) is written once. Keyed by the UTC instant, so equal keys are equal
# instants (aware datetimes in one zone compare equal across a DST fold).
@lru_cache(maxsize=4096)
def _local_and_utc(utc: datetime, zone_name: str) -> str:
    local = utc.astimezone(ZoneInfo(zone_name))
    local_text = f"{_day(local)} {local:%H:%M} {zone_abbreviation(local)}"
    if local.utcoffset() == utc.utcoffset() and zone_abbreviation(local) == "UTC":
        return local_text
    utc_text = f"{utc:%H:%M} UTC" if utc.date() == local.date() else f"{_day(utc)} {utc:%H:%M} UTC"
    return f"{local_text} ({utc_text})"


def local_day(instant: datetime, zone_name: str) -> str:
    """'Tue 1 Dec 2026': the day `instant` falls on in the zone."""
    return _local_day(require_aware(instant).astimezone(UTC), zone_name)


@lru_cache(maxsize=4096)
def _local_day(utc: datetime, zone_name: str) -> str:
    return _day(utc.astimezone(ZoneInfo(zone_name)))


def utc_text(instant: datetime) -> str:
    """'Tue 1 Dec 2026 07:00 UTC'."""
    return _utc_text(require_aware(instant).astimezone(UTC))


@lru_cache(maxsize=4096)
def _utc_text(utc: datetime) -> str:
    return f"{_day(utc)} {utc:%H:%M} UTC"


def duration_text(start: datetime, end: datetime) -> str:
    """'4 h', '90 min', '2 h 30 min'."""
    minutes = int((end - start).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


def time_left(now: datetime, start: datetime) -> tuple[str, str]:
    """How long from `now` until `start`, short and long: ('72 h', 'about 72 hours') to the
    nearest hour from 3 hours on, to the minute below ('1 h 35 min', '1 h 35 min')."""
    left = require_aware(start) - require_aware(now)
    if left >= timedelta(hours=3):
        hours = round(left.total_seconds() / 3600)
        return f"{hours} h", f"about {hours} hours"
    minutes = max(1, int(-(-left.total_seconds() // 60)))  # rounded up: never "0 min"
    text = duration_text(now, now + timedelta(minutes=minutes))
    return text, text
