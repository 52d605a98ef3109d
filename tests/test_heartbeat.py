"""A process's heartbeat row against the real database: written at the start, moved on
by every beat at the injected clock's time, marked at the stop, and kept beating
through a database error."""

from __future__ import annotations

import logging
import os
import socket

import pytest
from sqlalchemy import text

from changemgmt.jobs.heartbeat import Heartbeat
from changemgmt.store.models import Process
from support.waiting import eventually

INTERVAL = 0.02  # seconds between beats: the test waits for the thread, the times come from the clock


def row(db, heartbeat: Heartbeat) -> Process | None:
    with db() as session:
        return session.get(Process, heartbeat.id)


@pytest.fixture
def heartbeat(engine, clock, db):
    beating = Heartbeat(engine, "worker", clock, interval=INTERVAL)
    yield beating
    beating.stop()


def test_start_writes_the_processes_row_at_the_clocks_time(heartbeat, db, clock):
    heartbeat.start()
    written = row(db, heartbeat)
    assert written is not None
    assert (written.kind, written.host, written.pid) == ("worker", socket.gethostname(), os.getpid())
    assert written.started_at == written.beat_at == clock()
    assert (written.current_job, written.leader, written.stopped_at) == (None, False, None)
    assert heartbeat.id == f"worker-{socket.gethostname()}-{os.getpid()}-{int(clock().timestamp())}"
    assert heartbeat.alive


def test_each_beat_writes_the_clocks_time_and_the_current_job(heartbeat, db, clock):
    heartbeat.start()
    started = clock()
    later = clock.advance(seconds=5)
    heartbeat.doing("tick")
    beaten = eventually(lambda: (r := row(db, heartbeat)) and r.beat_at == later and r.current_job == "tick" and r)
    assert beaten.started_at == started  # a beat leaves it as it was
    heartbeat.set_leader(True)
    assert eventually(lambda: row(db, heartbeat).leader)
    heartbeat.doing(None)
    even_later = clock.advance(seconds=5)
    eventually(lambda: (r := row(db, heartbeat)).beat_at == even_later and r.current_job is None)


def test_stop_ends_the_beats_and_records_the_stop(heartbeat, db, clock):
    heartbeat.start()
    heartbeat.set_leader(True)
    eventually(lambda: row(db, heartbeat).leader)
    stopped = clock.advance(seconds=7)
    heartbeat.stop()
    assert not heartbeat.alive
    final = row(db, heartbeat)
    assert (final.stopped_at, final.beat_at, final.leader) == (stopped, stopped, False)
    clock.advance(seconds=7)
    with pytest.raises(AssertionError):  # no beat comes after the stop
        eventually(lambda: row(db, heartbeat).beat_at != stopped, timeout=20 * INTERVAL)


def test_a_database_error_is_logged_and_the_beats_go_on_after_it(heartbeat, engine, db, clock, caplog):
    caplog.set_level(logging.DEBUG, logger="changemgmt.jobs.heartbeat")
    heartbeat.start()
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE processes RENAME TO processes_away"))
    try:
        failed_at = clock.advance(seconds=5)
        eventually(lambda: sum("heartbeat failed" in r.getMessage() for r in caplog.records) >= 3)
        assert heartbeat.alive
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE processes_away RENAME TO processes"))
    (failure, *repeats) = [r for r in caplog.records if "heartbeat failed" in r.getMessage()]
    assert failure.levelname == "WARNING" and failure.event == "heartbeat_failed" and failure.process_id == heartbeat.id
    assert repeats and all(r.levelname == "DEBUG" for r in repeats)  # the outage is news once
    resumed = clock.advance(seconds=5)
    assert resumed != failed_at
    eventually(lambda: row(db, heartbeat).beat_at == resumed)
    assert heartbeat.alive
    assert eventually(lambda: any("heartbeat resumed" in r.getMessage() for r in caplog.records))


def test_a_missing_row_is_written_again_whole(heartbeat, db, engine, clock):
    heartbeat.start()
    started = clock()
    with engine.begin() as connection:
        connection.execute(Process.__table__.delete())
    later = clock.advance(seconds=5)
    again = eventually(lambda: row(db, heartbeat))
    assert (again.kind, again.beat_at) == ("worker", later)
    assert again.started_at == started


def test_a_long_host_name_is_shortened_to_fit_the_id(engine, clock, db, monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "h" * 300)
    beating = Heartbeat(engine, "clock", clock, interval=INTERVAL)
    beating.start()
    beating.stop()
    written = row(db, beating)
    assert (
        len(written.id) <= 100
        and written.id.startswith("clock-hhh")
        and written.id.endswith(f"-{os.getpid()}-{int(clock().timestamp())}")
    )
    assert written.host == "h" * 255
