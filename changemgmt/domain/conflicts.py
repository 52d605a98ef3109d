"""Conflicts and blackouts (SPEC §8), as plain data and rules: no I/O.

A conflict is another published GCR whose windows overlap this one's and which impacts
the same service, the same customer or the same work location. A blackout is a freeze
period, global or a customer's, that a GCR is not published or moved into unless a
change manager overrides it with a reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from changemgmt.domain.errors import DomainError, DomainErrors, Problems
from changemgmt.domain.text import one_line
from changemgmt.domain.windows import Window

LISTED = 20  # shared services, customers or locations named per conflict; the rest counted
BLACKOUT_REASON_MAX = 500


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """True when [a_start, a_end) and [b_start, b_end) share a moment."""
    return a_start < b_end and b_start < a_end


def overlapping_windows(mine: Iterable[Window], theirs: Iterable[Window]) -> tuple[tuple[int, int], ...]:
    """(my window number, their window number) of every pair of windows that overlap."""
    theirs = list(theirs)
    return tuple(
        (a.number, b.number)
        for a in sorted(mine, key=lambda w: w.number)
        for b in sorted(theirs, key=lambda w: w.number)
        if overlaps(a.start, a.end, b.start, b.end)
    )


@dataclass(frozen=True)
class Shared:
    """What two GCRs both impact, of one kind: the first LISTED names, and how many in all."""

    names: tuple[str, ...] = ()
    total: int = 0

    @classmethod
    def of(cls, names: Iterable[str]) -> Shared:
        ordered = sorted(set(names))
        return cls(tuple(ordered[:LISTED]), len(ordered))

    def __bool__(self) -> bool:
        return self.total > 0

    def text(self) -> str:
        more = f" and {self.total - len(self.names)} more" if self.total > len(self.names) else ""
        return ", ".join(self.names) + more


@dataclass(frozen=True)
class Conflict:
    """Another published GCR overlapping this one in time and in what it impacts."""

    number: str
    title: str
    status: str
    windows: tuple[tuple[int, int], ...]  # (this GCR's window, the other's window)
    services: Shared
    customers: Shared  # account numbers
    locations: Shared  # location codes

    def to_json(self) -> dict[str, Any]:
        return {
            "gcr": self.number,
            "title": self.title,
            "status": self.status,
            "windows": [{"window": a, "other_window": b} for a, b in self.windows],
            **{
                kind: {"items": list(shared.names), "total": shared.total}
                for kind, shared in (
                    ("services", self.services),
                    ("customers", self.customers),
                    ("locations", self.locations),
                )
            },
        }

    def describe(self) -> str:
        """One line: `GCR-2 (confirmed, window 1 overlaps its window 1): same service X; ...`."""
        pairs = ", ".join(f"window {a} overlaps its window {b}" for a, b in self.windows)
        shared = [
            f"same {kind} {shared.text()}"
            for kind, shared in (("service", self.services), ("customer", self.customers), ("location", self.locations))
            if shared
        ]
        return f"{self.number} ({self.status}; {pairs}): " + "; ".join(shared)


@dataclass(frozen=True)
class Blackout:
    id: int
    start: datetime
    end: datetime
    reason: str
    account: str | None  # None: global
    removed_at: datetime | None = None

    def describe(self) -> str:
        scope = f"{self.account}'s" if self.account else "global"
        return f"blackout {self.id} ({scope}, {_utc(self.start)} to {_utc(self.end)}: {self.reason})"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "reason": self.reason,
            "removed_at": _iso(self.removed_at) if self.removed_at else None,
        }


def _iso(value: datetime) -> str:
    """ISO 8601 in UTC with Z, as the API writes every time."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def blackout_hits(windows: Iterable[Window], blackouts: Iterable[Blackout]) -> list[tuple[Window, Blackout]]:
    """Every (window, blackout) pair that overlap, by window then blackout start."""
    blackouts = sorted(blackouts, key=lambda b: (b.start, b.id))
    return [
        (window, blackout)
        for window in sorted(windows, key=lambda w: w.number)
        for blackout in blackouts
        if overlaps(window.start, window.end, blackout.start, blackout.end)
    ]


def check_blackout_override(reason: object) -> str | None:
    """The reason given to override a blackout: one line, or None when none was given."""
    return one_line(reason, "blackout_override", BLACKOUT_REASON_MAX) or None


class BlackoutRefused(DomainErrors):
    """A valid change that the blackouts it falls in refuse (the API answers 409): one
    error per window, and the blackouts, each once."""

    def __init__(self, hits: list[tuple[Window, Blackout]]) -> None:
        super().__init__(
            DomainError(
                f"windows[{window.number}]",
                f"falls in {blackout.describe()}; move the window, or give a blackout override reason",
            )
            for window, blackout in hits
        )
        self.blackouts = tuple(dict.fromkeys(blackout for _, blackout in hits))


def check_blackouts(hits: list[tuple[Window, Blackout]], override: str | None) -> None:
    """Refuses, every one at once, the windows that fall in a blackout, unless the change
    manager gave a reason to override."""
    if hits and not override:
        raise BlackoutRefused(hits)


def check_blackout_period(start: datetime | None, end: datetime | None, reason: object, problems: Problems) -> str:
    """The reason of a new blackout, adding to `problems` what is wrong with its period
    and reason (a time that is None was already refused by the caller)."""
    naive = [
        name for name, value in (("start", start), ("end", end)) if value is not None and value.utcoffset() is None
    ]
    for name in naive:
        problems.add(name, "needs a time zone or UTC offset")
    if not naive and start is not None and end is not None and end <= start:
        problems.add("end", "must be after the start")
    text = ""
    with problems.checking():
        text = one_line(reason, "reason", BLACKOUT_REASON_MAX, required=True)
    return text
