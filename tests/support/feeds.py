"""What the feed tests share: a GCR on the small world, reading feeds back from disk,
and a strict parse that fails on anything a calendar client could trip over."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from changemgmt.feeds.manage import key_for, open_feed
from changemgmt.feeds.registry import FeedToken, Scope, get_feed, with_token
from changemgmt.feeds.stores import store_of

UTC = UTC
ICALJS = Path(__file__).parent / "icaljs"

# Acme (child of the enterprise ENT-100) and Globex are impacted; Initech is not.
GCR = {
    "number": "GCR-1001",
    "title": "Fibre splice on the Dallas ring",
    "description": "Splicing damaged fibre.",
    "reason": "Road works cut the cable.",
    "work_location": "Dallas Central POP",
    "windows": [
        {"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"},
        {"start": "2026-12-08T07:00Z", "end": "2026-12-08T11:00Z"},
    ],
    "impacts": [
        {"service": "ACME-ETH-1", "impact": "OUTAGE", "max_outage_minutes": 30},
        {"service": "ACME-DIA-2", "impact": "DEGRADED"},
        {"service": "GLBX-WAVE-1", "impact": "REDUCED-REDUNDANCY"},
    ],
}
IDENTITIES = {
    "ENT-100": {"ENT-100", "Acme Holdings"},
    "ACC-1001": {"ACC-1001", "Acme Logistics", "ACME-ETH-1", "ACME-DIA-2"},
    "ACC-2002": {"ACC-2002", "Globex Corp", "GLBX-WAVE-1"},
    "ACC-3003": {"ACC-3003", "Initech", "INIT-ETH-9"},
}


def parse(data: bytes) -> icalendar.Calendar:
    """Parses a feed strictly: RFC 5545 form, no parse errors anywhere, no floating or
    zoned times, unique UIDs, no METHOD."""
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF"
    for line in data.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # folding never splits a character
    calendar = icalendar.Calendar.from_ical(data)
    for component in calendar.walk():
        assert component.errors == [], (component.name, component.errors)
    assert "METHOD" not in calendar
    uids = [str(e["UID"]) for e in calendar.walk("VEVENT")]
    assert len(uids) == len(set(uids)), "duplicate UIDs"
    for event in calendar.walk("VEVENT"):
        for name in ("DTSTART", "DTEND", "DTSTAMP", "LAST-MODIFIED"):
            value = event[name].dt
            assert isinstance(value, datetime) and value.utcoffset() == timedelta(0), (name, value)
            assert "TZID" not in event[name].params
    return calendar


def ical_js(paths: list[Path]) -> list[dict]:
    """What ical.js (Mozilla's parser, behind Thunderbird) reads from each file; skips (or
    fails on CI) when it is not installed."""
    missing = shutil.which("node") is None or not (ICALJS / "node_modules" / "ical.js").is_dir()
    if missing:
        reason = "ical.js is not installed: run bin/test, or `npm ci` in tests/support/icaljs"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    output = subprocess.run(
        ["node", str(ICALJS / "parse.mjs"), *map(str, paths)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return json.loads(output)


def events(data: bytes) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in parse(data).walk("VEVENT")}


class Feeds:
    """The world's feeds as a subscriber sees them: what the configured store (FEED_STORE)
    holds behind each URL."""

    def __init__(self, db, settings, clock) -> None:
        self.db, self.settings, self.clock = db, settings, clock

    def token(self, account: str | None, scope: Scope = Scope.CUSTOMER) -> FeedToken:
        """The feed's token; a feed that does not exist yet is created and written."""
        with self.db() as session:
            feed = get_feed(session, key_for(session, account, scope))
        if feed is None:
            return open_feed(self.db, self.settings, self.clock(), account, scope)
        return with_token(feed, self.settings)

    def path(self, account: str | None, scope: Scope = Scope.CUSTOMER):
        """The feed's file (FEED_STORE=files)."""
        return self.settings.calendars_dir / self.token(account, scope).file_name

    def read(self, account: str | None, scope: Scope = Scope.CUSTOMER) -> bytes:
        data = store_of(self.settings, self.db).read(self.token(account, scope))
        assert data is not None, f"no feed stored for {account} ({scope.value})"
        return data

    def events(self, account: str | None, scope: Scope = Scope.CUSTOMER) -> dict[str, icalendar.Event]:
        return events(self.read(account, scope))


def uid(window: int, account: str | None = "ACC-1001", number: str = "GCR-1001") -> str:
    return f"{number}-W{window}-{account}@example.net" if account else f"{number}-W{window}@example.net"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
