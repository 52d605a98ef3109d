"""Maintenance windows: instants entered in any zone, stored in UTC (SPEC §2, §3.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from changemgmt.domain.errors import DomainError


@dataclass(frozen=True)
class Window:
    """One window of a GCR. `number` is given once and never changes."""

    number: int
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise DomainError(f"windows[{self.number}].{name}", "needs a time zone or UTC offset")
        if self.end <= self.start:
            raise DomainError(f"windows[{self.number}].end", "must be after the start")

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def zone(name: str, field: str = "time_zone") -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(field, f"{name!r} is not an IANA time zone (e.g. America/Chicago)") from None


def parse_instant(raw: str | datetime, tz_name: str | None, field: str) -> datetime:
    """Returns the UTC instant meant by `raw`.

    `raw` with a UTC offset stands on its own. A local time needs `tz_name`; one that
    does not exist there (spring-forward gap) or exists twice (fall-back) is refused,
    the second unless the offset is written out.
    """
    if isinstance(raw, datetime):
        value = raw
    else:
        try:
            value = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise DomainError(field, f"{raw!r} is not an ISO 8601 date and time") from None
    if value.tzinfo is None and not tz_name:
        raise DomainError(field, f"{raw!s} has no UTC offset; give one or a time zone")
    try:
        if value.tzinfo is not None or tz_name is None:
            return value.astimezone(UTC)
        return _localize(value, zone(tz_name, field=f"{field}.time_zone"), field)
    except OverflowError:  # a time at the very edge of the calendar (year 1 or 9999) in UTC
        raise DomainError(field, f"{raw!s} is out of range") from None


def parse_bound(raw: str, tz_name: str | None, field: str, *, end_of_day: bool = False) -> datetime:
    """One end of a period asked for (a list's --from/--to, a blackout): as parse_instant,
    and a date alone is its midnight, or with `end_of_day` the end of that day."""
    instant = parse_instant(raw, tz_name, field)
    is_date = re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()) is not None
    try:
        return instant + timedelta(days=1) if is_date and end_of_day else instant
    except OverflowError:
        raise DomainError(field, f"{raw!s} is out of range") from None


def _localize(wall: datetime, tz: ZoneInfo, field: str) -> datetime:
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != wall:
        raise DomainError(field, f"{wall:%Y-%m-%d %H:%M} does not exist in {tz.key} (clocks spring forward)")
    if first.utcoffset() != second.utcoffset():
        raise DomainError(
            field, f"{wall:%Y-%m-%d %H:%M} happens twice in {tz.key} (clocks fall back); give the UTC offset"
        )
    return first.astimezone(UTC)


def utc(value: datetime) -> datetime:
    """Returns an aware UTC datetime; naive values are taken as UTC (as SQLite returns them)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def check_windows(windows: list[Window]) -> None:
    """Raises DomainError unless there is at least one window and numbers are unique."""
    if not windows:
        raise DomainError("windows", "a GCR needs at least one window")
    seen: set[int] = set()
    for window in windows:
        if window.number in seen:
            raise DomainError(f"windows[{window.number}]", "window number used twice")
        seen.add(window.number)
