"""`changemgmt status`: the processes and whether they beat, the delivery queue by state,
the oldest due delivery's wait, and the last run of each clock job (text and JSON)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from changemgmt.store import models
from changemgmt.store.db import transaction
from support.clocks import Clocks

GCR = {
    "number": "GCR-9201",
    "title": "Card swap",
    "description": "Swapping a line card.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}],
}


@pytest.fixture
def clocks(engine, settings, clock, db):
    made = Clocks(engine, settings, clock)
    yield made
    made.stop()


def process(kind: str, pid: int, started, beat, **more) -> models.Process:
    return models.Process(
        id=f"{kind}-host-{pid}-1", kind=kind, host="host", pid=pid, started_at=started, beat_at=beat, **more
    )


def test_status_shows_who_beats_the_queue_and_the_clock_jobs(run, desk, clocks, clock, db, settings, now):
    clock.now = now - timedelta(seconds=90)  # `status` runs at `now`
    desk.publish(GCR)  # two deliveries, due at once
    the_clock = clocks(heartbeat_seconds=3600)
    the_clock.begin()
    the_clock.runner.run("tick")
    the_clock.heartbeat.stop()  # its row is replaced below: a beat would write it back
    timeout = settings.heartbeat_timeout_seconds
    with transaction(db) as session:
        session.query(models.Process).delete()
        session.add_all(
            [
                process(
                    "clock", 11, now - timedelta(hours=1), now - timedelta(seconds=2), leader=True, current_job="tick"
                ),
                process("worker", 12, now - timedelta(hours=1), now - timedelta(seconds=timeout + 5)),
                process("worker", 14, now - timedelta(hours=1), now - timedelta(seconds=8)),  # beats every 5 s
                process("worker", 13, now - timedelta(hours=2), now - timedelta(hours=1), stopped_at=now),
            ]
        )

    text = run("status")
    assert "processes (heartbeat timeout 20 s):" in text
    lines = text.splitlines()
    clock_line = next(line for line in lines if line.split()[:3] == ["clock", "host", "11"])
    assert "2 s ago" in clock_line and "tick" in clock_line and clock_line.rstrip().endswith("leader")
    worker_line = next(line for line in lines if line.split()[:3] == ["worker", "host", "12"])
    assert "25 s ago" in worker_line and worker_line.rstrip().endswith("NOT BEATING")
    late_line = next(line for line in lines if line.split()[:3] == ["worker", "host", "14"])
    assert "8 s ago" in late_line and late_line.rstrip().endswith("LATE (beating; missed a beat)")
    assert not any(line.split()[:3] == ["worker", "host", "13"] for line in lines)  # stopped: not shown
    assert "deliveries: pending 2, sending 0, sent 0, failed 0, skipped 0" in text
    assert "oldest due delivery: waiting 90 s" in text
    tick_line = next(line for line in lines if line.split()[:1] == ["tick"])
    assert the_clock.heartbeat.id in tick_line and tick_line.rstrip().endswith("ok")

    shown = json.loads(run("status", "--json"))
    beats = {p["pid"]: (p["beating"], p["late"], p["leader"], p["beat_age"]) for p in shown["processes"]}
    assert beats == {11: (True, False, True, 2.0), 12: (False, True, False, timeout + 5), 14: (True, True, False, 8.0)}
    assert shown["deliveries"]["pending"] == 2 and shown["oldest_due_delivery_age_seconds"] == 90.0
    (tick,) = [j for j in shown["clock_jobs"] if j["id"] == "tick"]
    assert (tick["runs"], tick["failures"], tick["last_ok"]) == (1, 0, True)
    assert tick["last_process_id"] == the_clock.heartbeat.id


def test_status_on_a_quiet_system_says_so(run, db):
    text = run("status")
    assert "  none running" in text and "oldest due delivery: none due" in text and "  none run yet" in text
