"""`changemgmt gcr list`: every filter alone and together, the order (what is next
first), JSON for tools and a table for people, on the small shared world."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from changemgmt.domain.status import Status

# The world's services: ACME-ETH-1 and ACME-DIA-2 (ACC-1001, under ENT-100),
# GLBX-WAVE-1 (ACC-2002), INIT-ETH-9 (ACC-3003). `now` is 2026-11-02T15:00Z.


def gcr(number: str, start: str, end: str, *services: str, title: str | None = None) -> dict:
    return {
        "number": number,
        "title": title or f"Work {number}",
        "description": "Planned work.",
        "windows": [{"start": start, "end": end}],
        "impacts": [{"service": s, "impact": "OUTAGE"} for s in services],
    }


@pytest.fixture
def gcrs(desk, clock, now):
    """One GCR in each status, their windows spread around `now`."""
    clock.now = now - timedelta(days=40)
    desk.publish(gcr("GCR-2004", "2026-10-20T06:00Z", "2026-10-20T10:00Z", "GLBX-WAVE-1"))
    desk.publish(gcr("GCR-2006", "2026-11-02T14:00Z", "2026-11-02T18:00Z", "ACME-DIA-2", "INIT-ETH-9"))
    clock.now = datetime(2026, 10, 20, 6, 0, tzinfo=UTC)
    desk.status("GCR-2004", Status.IN_PROGRESS)
    clock.advance(hours=4)
    desk.status("GCR-2004", Status.COMPLETED)
    clock.now = now - timedelta(hours=1)
    desk.status("GCR-2006", Status.IN_PROGRESS)
    clock.now = now
    desk.publish(
        gcr(
            "GCR-2001",
            "2026-12-01T07:00Z",
            "2026-12-01T11:00Z",
            "ACME-ETH-1",
            "GLBX-WAVE-1",
            title="Fibre splice on the Dallas ring",
        )
    )
    desk.publish(gcr("GCR-2002", "2026-11-20T06:00Z", "2026-11-20T08:00Z", "INIT-ETH-9"), Status.TENTATIVE)
    desk.create(gcr("GCR-2003", "2026-12-15T06:00Z", "2026-12-15T08:00Z", "ACME-DIA-2"))
    desk.publish(gcr("GCR-2005", "2026-11-25T06:00Z", "2026-11-25T08:00Z", "GLBX-WAVE-1"))
    desk.status("GCR-2005", Status.CANCELLED)


def numbers(run, *args) -> list[str]:
    return [g["number"] for g in json.loads(run("gcr", "list", "--json", *args))]


def test_gcrs_are_listed_next_window_first_then_the_latest_finished(run, gcrs):
    assert numbers(run) == ["GCR-2006", "GCR-2002", "GCR-2005", "GCR-2001", "GCR-2003", "GCR-2004"]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["confirmed"], ["GCR-2001"]),
        (["tentative", "draft"], ["GCR-2002", "GCR-2003"]),
        (["in_progress", "completed", "cancelled"], ["GCR-2006", "GCR-2005", "GCR-2004"]),
    ],
)
def test_gcrs_can_be_listed_by_status(run, gcrs, statuses, expected):
    assert numbers(run, *[arg for s in statuses for arg in ("--status", s)]) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--from", "2026-11-21", "--to", "2026-12-01"], ["GCR-2005", "GCR-2001"]),  # a date --to includes its day
        (["--from", "2026-11-21", "--to", "2026-11-30"], ["GCR-2005"]),
        (["--from", "2026-12-01T11:00Z"], ["GCR-2003"]),  # a window ending at --from does not overlap it
        (["--to", "2026-11-20T06:00Z"], ["GCR-2006", "GCR-2004"]),  # nor one starting at --to
        (["--from", "2026-11-02T17:00-05:00", "--to", "2026-11-20T07:00"], ["GCR-2002"]),
    ],
)
def test_gcrs_can_be_listed_by_the_time_their_windows_overlap(run, gcrs, args, expected):
    assert numbers(run, *args) == expected


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ("ACC-1001", ["GCR-2006", "GCR-2001", "GCR-2003"]),
        ("ENT-100", ["GCR-2006", "GCR-2001", "GCR-2003"]),  # an enterprise sees its accounts' GCRs
        ("ACC-2002", ["GCR-2005", "GCR-2001", "GCR-2004"]),
        ("ACC-3003", ["GCR-2006", "GCR-2002"]),
    ],
)
def test_gcrs_can_be_listed_by_customer(run, gcrs, account, expected):
    assert numbers(run, "--customer", account) == expected


def test_gcrs_can_be_listed_by_service_and_filters_combine(run, gcrs):
    assert numbers(run, "--service", "GLBX-WAVE-1") == ["GCR-2005", "GCR-2001", "GCR-2004"]
    assert numbers(
        run, "--service", "GLBX-WAVE-1", "--status", "completed", "--status", "confirmed", "--to", "2026-11-30"
    ) == ["GCR-2004"]
    assert numbers(run, "--customer", "ACC-1001", "--service", "GLBX-WAVE-1") == ["GCR-2001"]
    assert numbers(run, "--limit", "2") == ["GCR-2006", "GCR-2002"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customer", "ACC-404"], "no customer with account ACC-404"),
        (["--service", "NOPE-1"], "no service with ID NOPE-1"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "--to: must be after --from"),
        (["--from", "next tuesday"], "--from: 'next tuesday' is not an ISO 8601 date and time"),
    ],
)
def test_a_bad_filter_is_named(run, gcrs, args, message):
    assert message in run("gcr", "list", *args, expect=1)


def test_the_json_holds_what_a_tool_needs(run, gcrs):
    listed = {g["number"]: g for g in json.loads(run("gcr", "list", "--json"))}
    assert listed["GCR-2001"] == {
        "number": "GCR-2001",
        "title": "Fibre splice on the Dallas ring",
        "status": "confirmed",
        "emergency": False,
        "revision": 2,
        "windows": [{"number": 1, "start": "2026-12-01T07:00:00Z", "end": "2026-12-01T11:00:00Z"}],
        "services": 2,
        "customers": 2,
        "updated_at": "2026-11-02T15:00:00Z",
    }
    assert (listed["GCR-2006"]["services"], listed["GCR-2006"]["customers"]) == (2, 2)
    assert json.loads(run("gcr", "list", "--json", "--status", "draft", "--service", "GLBX-WAVE-1")) == []


def test_the_table_reads_one_gcr_a_line(run, gcrs):
    lines = run("gcr", "list").splitlines()
    assert lines[0].split() == ["NUMBER", "STATUS", "WINDOW", "(UTC)", "SERVICES", "CUSTOMERS", "TITLE"]
    assert lines[1].split() == [
        "GCR-2006",
        "in_progress",
        "2026-11-02",
        "14:00",
        "-",
        "18:00",
        "2",
        "2",
        "Work",
        "GCR-2006",
    ]
    row = next(line for line in lines if line.startswith("GCR-2001"))
    assert row.split() == [
        "GCR-2001",
        "confirmed",
        "2026-12-01",
        "07:00",
        "-",
        "11:00",
        "2",
        "2",
        "Fibre",
        "splice",
        "on",
        "the",
        "Dallas",
        "ring",
    ]
    assert {line.index(title) for line, title in [(lines[0], "TITLE"), (lines[1], "Work"), (row, "Fibre")]} == {
        lines[0].index("TITLE")
    }
    assert len(lines) == 7
    assert run("gcr", "list", "--status", "draft", "--service", "GLBX-WAVE-1").strip() == "no GCRs match"
