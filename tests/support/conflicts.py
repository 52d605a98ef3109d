"""GCRs for conflict and blackout tests: a night's work, one overlapping it by an hour,
and the same night a week later (all ahead of the tests' now, with the minimum notice)."""

from __future__ import annotations

NIGHT = [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}]
LATER = [{"start": "2026-12-01T10:00Z", "end": "2026-12-01T12:00Z"}]  # overlaps NIGHT by an hour
NEXT_WEEK = [{"start": "2026-12-08T07:00Z", "end": "2026-12-08T11:00Z"}]


def gcr(number: str, impacts: list[tuple[str, str]], windows=NIGHT, locations=()) -> dict:
    """A GCR document impacting each (service, impact level)."""
    return {
        "number": number,
        "title": f"Work {number}",
        "description": "Work.",
        "windows": windows,
        "locations": list(locations),
        "impacts": [{"service": s, "impact": i} for s, i in impacts],
    }
