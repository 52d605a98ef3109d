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
        before, after = _clock_change(first, second, tz)
        raise DomainError(
            field,
            f"{wall:%H:%M} on {wall:%Y-%m-%d} does not exist in {tz.key}: "
            f"clocks jump from {before:%H:%M} to {after:%H:%M}",
        )
    if first.utcoffset() != second.utcoffset():
        before, after = _clock_change(first, second, tz)
        raise DomainError(
            field,
            f"{wall:%H:%M} on {wall:%Y-%m-%d} happens twice in {tz.key}: clocks go back from "
            f"{before:%H:%M} to {after:%H:%M}; give the UTC offset ({_offset(first)} for the first, "
            f"{_offset(second)} for the second)",
        )
    return first.astimezone(UTC)


def _clock_change(first: datetime, second: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The wall clock just before and just after the change of offset around a time that
    does not exist or happens twice (`first` and `second`: its two folds)."""
    early, late = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    old_offset = early.astimezone(tz).utcoffset()
    while late - early > timedelta(minutes=1):  # the instant of the change, to the minute
        middle = early + (late - early) / 2
        if middle.astimezone(tz).utcoffset() == old_offset:
            early = middle
        else:
            late = middle
    change = late.replace(second=0, microsecond=0)
    new_offset = change.astimezone(tz).utcoffset()
    assert old_offset is not None and new_offset is not None
    return (change + old_offset).replace(tzinfo=None), (change + new_offset).replace(tzinfo=None)


def _offset(value: datetime) -> str:
    minutes = int(value.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


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
