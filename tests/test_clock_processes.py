"""The clock and the workers as real processes: a standby clock takes over within
seconds when the leader is killed, and no reminder is lost or sent twice; SQLite has
one clock; `serve` runs web, clock and worker in one process; processes started
against an old schema say so and exit."""

from __future__ import annotations

import email
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from changemgmt.config import load_settings
from changemgmt.store import models
from changemgmt.store.db import make_engine, session_factory
from changemgmt.store.migrate import head_revision, upgrade
from support.blank import blank_database
from support.gcrs import Clock, Desk
from support.processes import process_env, start, stopped_after, wait_for
from support.web import free_port
from world import build_world

# Fast clocks and beats, so that the tests take seconds, not minutes.
FAST = {
    "CLOCK_TICK_SECONDS": "0.5",
    "CLOCK_FEEDS_SECONDS": "1",
    "HEARTBEAT_SECONDS": "0.5",
    "HEARTBEAT_TIMEOUT_SECONDS": "3",
}
EVERYONE = {"noc@acme.example", "it@acme-holdings.example", "ops@globex.example"}


def on_postgres(engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: standby clocks")


def gcr(number: str, start: datetime) -> dict:
    return {
        "number": number,
        "title": "Router reload",
        "description": "Reloading the core router.",
        "windows": [{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}],
        "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}],
    }


def outbox(home: Path) -> Counter:
    """How many copies each address got of each GCR's notices of each kind, read from
    the .eml files the workers wrote: {(address, GCR, kind): copies}."""
    got: Counter = Counter()
    for path in (home / "var" / "outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        subject = str(message["Subject"])
        number = re.search(r"GCR-\d+", subject).group(0)
        got[(message["To"].addresses[0].addr_spec, number, subject.split(":")[0])] += 1
    return got


def sent(home: Path, number: str, kind: str) -> int:
    return sum(c for (_, n, k), c in outbox(home).items() if (n, k) == (number, kind))


def clock_process(db, pid: int) -> str | None:
    """The heartbeat id of the clock with this pid, once it has one."""
    with db() as session:
        return session.scalar(select(models.Process.id).where(models.Process.pid == pid))


def first_run_by(db, process_id: str, after: datetime) -> datetime | None:
    """When `process_id` first ran a job after `after` (each job's last run is kept)."""
    with db() as session:
        starts = session.scalars(
            select(models.ClockJob.last_started_at).where(
                models.ClockJob.last_process_id == process_id, models.ClockJob.last_started_at > after
            )
        ).all()
    return min(starts) if starts else None


def leading(db) -> str | None:
    with db() as session:
        return session.scalar(
            select(models.ClockJob.last_process_id).where(models.ClockJob.id == "tick", models.ClockJob.runs > 0)
        )


def kill_and_time_takeover(db, leader: subprocess.Popen, standby_id: str) -> float:
    """Kills the leader (SIGKILL: no goodbye) and returns the seconds until the standby's
    first job run."""
    killed = datetime.now(UTC)
    leader.send_signal(signal.SIGKILL)
    leader.wait()
    took = wait_for(lambda: first_run_by(db, standby_id, killed), 30, "the standby's first job") - killed
    return took.total_seconds()


@pytest.mark.slow
def test_when_the_leading_clock_is_killed_the_standby_takes_over_and_no_reminder_is_lost_or_sent_twice(
    desk, db, engine, env, home, tmp_path
):
    on_postgres(engine)
    # One reminder a minute before each window (reminders are whole minutes): GCR-9801's
    # falls due under the first leader, GCR-9802's after that leader was killed, under the
    # standby, which also starts GCR-9801 at its window. GCR-9802 is published once the
    # first reminder is out, so that however slowly the processes start (a loaded
    # machine), its reminder comes after the kill.
    env = process_env(env, **FAST, REMINDER_OFFSETS_HOURS=str(1 / 60), MINIMUM_NOTICE_DAYS="0")
    settings = load_settings(env)
    now = datetime.now(UTC)
    Desk(db, settings, Clock(now)).publish(gcr("GCR-9801", now + timedelta(seconds=70)))
    with stopped_after() as processes:
        first = start(env, "clock", log=tmp_path / "clock-1.log")
        processes.append(first)
        first_id = wait_for(lambda: leading(db), 30, "the first clock leads")
        assert first_id == clock_process(db, first.pid)
        second = start(env, "clock", log=tmp_path / "clock-2.log")
        processes.append(second)
        second_id = wait_for(lambda: clock_process(db, second.pid), 30, "the second clock beats")
        processes += [start(env, "worker", "--idle", "0.2", log=tmp_path / f"worker-{n}.log") for n in (1, 2)]
        wait_for(lambda: sent(home, "GCR-9801", "Reminder") == 3, 60, "GCR-9801's reminder")
        later = datetime.now(UTC)
        Desk(db, settings, Clock(later)).publish(gcr("GCR-9802", later + timedelta(seconds=80)))
        assert leading(db) == first_id
        took = kill_and_time_takeover(db, first, second_id)
        assert sent(home, "GCR-9802", "Reminder") == 0, "GCR-9802's reminder went before the kill"
        wait_for(lambda: sent(home, "GCR-9801", "Started") == 3, 90, "GCR-9801 starts")
        wait_for(lambda: sent(home, "GCR-9802", "Reminder") == 3, 90, "GCR-9802's reminder")
    print(f"\nclock failover: {took:.2f} s from kill -9 to the standby's first job run")
    assert took < 10
    for number, kinds in (("GCR-9801", ("New", "Reminder", "Started")), ("GCR-9802", ("New", "Reminder"))):
        for kind in kinds:  # each address got each once: none lost, none twice
            assert {a: c for (a, n, k), c in outbox(home).items() if (n, k) == (number, kind)} == dict.fromkeys(
                EVERYONE, 1
            ), (number, kind)
    assert sum(outbox(home).values()) == 15


@pytest.mark.slow
def test_failover_takes_seconds_every_time(desk, db, engine, env, tmp_path):
    on_postgres(engine)
    env = process_env(env, **{**FAST, "CLOCK_TICK_SECONDS": "1"})
    figures = []
    with stopped_after() as processes:
        leader = start(env, "clock", "--poll", "1", log=tmp_path / "clock-0.log")
        processes.append(leader)
        wait_for(lambda: leading(db), 30, "a clock leads")
        for n in range(1, 6):
            standby = start(env, "clock", "--poll", "1", log=tmp_path / f"clock-{n}.log")
            processes.append(standby)
            standby_id = wait_for(lambda: clock_process(db, standby.pid), 30, "the standby beats")  # noqa: B023
            figures.append(kill_and_time_takeover(db, leader, standby_id))
            leader = standby
    print("\nclock failover, kill -9 to the standby's first job run (s): " + ", ".join(f"{f:.2f}" for f in figures))
    assert max(figures) < 10


@pytest.fixture
def sqlite_home(tmp_path):
    """A home of its own with an embedded database, migrated, with the small world."""
    home = tmp_path / "embedded"
    env = {"CHANGEMGMT_HOME": str(home), "DATABASE_URL": f"sqlite:///{home / 'var' / 'changemgmt.db'}", **FAST}
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    with session_factory(engine).begin() as session:
        build_world(session)
    yield home, process_env(env), session_factory(engine)
    engine.dispose()


def test_a_second_clock_on_one_sqlite_database_is_refused_in_one_line(sqlite_home, tmp_path):
    home, env, sessions = sqlite_home
    with stopped_after() as processes:
        first = start(env, "clock", log=tmp_path / "clock.log")
        processes.append(first)
        wait_for(lambda: clock_process(sessions, first.pid), 30, "the clock beats")
        second = subprocess.run(
            [sys.executable, "-m", "changemgmt", "clock"], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1 and second.stdout == ""
        assert second.stderr.count("\n") == 1, second.stderr
        assert f"another clock (pid {first.pid}) is running on {home / 'var' / 'changemgmt.db'}" in second.stderr
        assert first.poll() is None  # the first one runs on


def test_serve_runs_web_clock_and_worker_in_one_process(sqlite_home, tmp_path):
    home, env, sessions = sqlite_home
    port = free_port()
    with stopped_after() as processes:
        serve = start({**env, "PORT": str(port)}, "serve", log=tmp_path / "serve.log")
        processes.append(serve)
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 30, "the web server")
        server_id = wait_for(lambda: clock_process(sessions, serve.pid), 30, "the serve process beats")
        assert server_id.startswith("serve-")
        soon = datetime.now(UTC) + timedelta(days=10)
        window = f"{soon:%Y-%m-%dT%H:%MZ}/{soon + timedelta(hours=1):%Y-%m-%dT%H:%MZ}"
        document = ["--number", "GCR-9901", "--title", "Swap", "--description", "Swap a card.", "--window", window]
        created = subprocess.run(
            [sys.executable, "-m", "changemgmt", "gcr", "create", *document, "--impact", "GLBX-WAVE-1", "--publish",
             "confirmed"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        wait_for(lambda: sent(home, "GCR-9901", "New") == 1, 30, "the new notice goes out")
        wait_for(lambda: first_run_by(sessions, server_id, datetime.now(UTC) - timedelta(hours=1)), 30, "a clock job")
        wait_for(lambda: list((home / "calendars").glob("*.ics")), 30, "the feeds are written")
        refused = subprocess.run(
            [sys.executable, "-m", "changemgmt", "clock"], env=env, capture_output=True, text=True, timeout=60
        )
        assert refused.returncode == 1 and f"(pid {serve.pid})" in refused.stderr
        assert serve.poll() is None


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("command", [("clock",), ("worker",), ("web",), ("status",), ("release",)])
def test_a_process_started_before_db_upgrade_says_so_in_one_line_and_exits(database_url, tmp_path, command):
    with blank_database(database_url, tmp_path) as url:
        env = process_env({"CHANGEMGMT_HOME": str(tmp_path), "DATABASE_URL": url}, HONCHO_PROCESS_NAME="x.1")
        done = subprocess.run(
            [sys.executable, "-m", "changemgmt", *command], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"has no schema yet (revision none, expected {head_revision()})" in done.stderr
    assert "run `changemgmt db upgrade`" in done.stderr
