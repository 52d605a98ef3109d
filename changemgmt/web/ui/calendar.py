"""The calendar of maintenance windows as the pages draw it: a week or a month of days in
the viewer's time zone, each day with the windows that touch it (a window over midnight
is on each of its days). Pure: the caller passes the entries and today; the staff
calendar and the portal's both use it, with the macro in templates/_calendar.html."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from changemgmt.domain.errors import Problems
from changemgmt.domain.notice import status_label
from changemgmt.domain.status import Status

VIEWS = ("month", "week")
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)  # a grid's days, before and after, stay dates
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Entry:
    """One window of one GCR, linked to the page that shows the GCR."""

    number: str
    title: str
    status: Status
    href: str
    start: datetime
    end: datetime
    cancelled: bool = False  # this window only (the GCR's status says if all are)
    note: str = ""  # e.g. the account it is shown for

    @property
    def status_text(self) -> str:
        return status_label(self.status)


@dataclass(frozen=True)
class Placed:
    entry: Entry
    times: str  # its hours on this day: "07:00–11:00", "from 22:00", "until 02:00", "all day"


@dataclass(frozen=True)
class Day:
    date: date
    in_period: bool  # a month grid shows the days of the weeks around the month too
    today: bool
    placed: tuple[Placed, ...]

    @property
    def label(self) -> str:
        return f"{_DAYS[self.date.weekday()]} {self.date.day} {_MONTHS[self.date.month - 1][:3]}"


@dataclass(frozen=True)
class Period:
    view: str  # "week" or "month"
    first: date  # its first day: a Monday, or the 1st of the month
    end: date  # the day after its last

    @property
    def grid_first(self) -> date:
        return self.first - timedelta(days=self.first.weekday())

    @property
    def grid_end(self) -> date:
        last = self.end - timedelta(days=1)
        return last + timedelta(days=7 - last.weekday())

    @property
    def title(self) -> str:
        if self.view == "month":
            return f"{_MONTHS[self.first.month - 1]} {self.first.year}"
        last = self.end - timedelta(days=1)
        return f"{_short(self.first, self.first.year != last.year)} – {_short(last, True)}"

    @property
    def previous(self) -> date:
        if self.view == "month":
            return (self.first - timedelta(days=1)).replace(day=1)
        return self.first - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.end

    def utc_range(self, zone: str) -> tuple[datetime, datetime]:
        """The instants the grid covers, from its first day's midnight to its last's end."""
        return _midnight(self.grid_first, zone), _midnight(self.grid_end, zone)


def _short(day: date, with_year: bool) -> str:
    text = f"{day.day} {_MONTHS[day.month - 1][:3]}"
    return f"{text} {day.year}" if with_year else text


def period_of(view: str, start: date) -> Period:
    """The month, or the week (Monday to Sunday), holding `start`."""
    if view == "month":
        first = start.replace(day=1)
        return Period(view, first, (first + timedelta(days=32)).replace(day=1))
    first = start - timedelta(days=start.weekday())
    return Period("week", first, first + timedelta(days=7))


def parse_period(view: str | None, start: str | None, today: date) -> Period:
    """The period a page's `view` and `start` (YYYY-MM-DD) ask for: by default the
    month holding today. Raises DomainError naming each field that is wrong."""
    problems = Problems()
    chosen = view or "month"
    if chosen not in VIEWS:
        problems.add("view", "must be week or month")
    day = today
    if start:
        try:
            day = date.fromisoformat(start)
        except ValueError:
            problems.add("start", "must be a date such as 2026-12-01")
        else:
            if not FIRST_DAY <= day <= LAST_DAY:
                problems.add("start", f"must be from {FIRST_DAY} to {LAST_DAY}")
    problems.raise_any()
    return period_of(chosen, day)


def weeks(period: Period, entries: list[Entry], zone: str, today: date) -> list[list[Day]]:
    """The grid's days, a week (Monday first) a row, each with the entries on it, by start."""
    ordered = sorted(entries, key=lambda e: (e.start, e.number))
    rows: list[list[Day]] = []
    day = period.grid_first
    while day < period.grid_end:
        begins, ends = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
        placed = tuple(Placed(e, _times(e, begins, ends, zone)) for e in ordered if e.start < ends and e.end > begins)
        if day.weekday() == 0:
            rows.append([])
        rows[-1].append(Day(day, period.first <= day < period.end, day == today, placed))
        day += timedelta(days=1)
    return rows


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


def _times(entry: Entry, begins: datetime, ends: datetime, zone: str) -> str:
    local = ZoneInfo(zone)
    start, end = f"{entry.start.astimezone(local):%H:%M}", f"{entry.end.astimezone(local):%H:%M}"
    starts_today, ends_today = entry.start >= begins, entry.end <= ends
    if starts_today and ends_today:
        return f"{start}–{end}"
    if starts_today:
        return f"from {start}"
    return f"until {end}" if ends_today else "all day"


def today_in(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()
