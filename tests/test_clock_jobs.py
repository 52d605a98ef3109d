"""The clock's jobs, run by id with the test's clock as `now`: how they are scheduled,
how each run is recorded, who may run them (one leader), and what each one does."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select, text

from changemgmt.delivery.claim import claim_due
from changemgmt.delivery.transports import InMemoryTransport, SendError
from changemgmt.delivery.webhook import apply_sendgrid_events
from changemgmt.delivery.worker import Worker
from changemgmt.domain.status import Status
from changemgmt.jobs.heartbeat import Heartbeat
from changemgmt.jobs.leadership import ClockAlreadyRunning
from changemgmt.jobs.schedule import clock_jobs
from changemgmt.store import models
from changemgmt.store.db import transaction
from support.clocks import Clocks

GCR = {
    "number": "GCR-9101",
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


@pytest.fixture
def leader(clocks):
    made = clocks()
    assert made.begin()
    return made


def on_postgres(engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: standby clocks and row locks")


def job_row(db, job_id: str) -> models.ClockJob:
    with db() as session:
        return session.get(models.ClockJob, job_id)


def audit(db, action: str) -> list[models.AuditEntry]:
    with db() as session:
        return list(session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)))


def test_every_job_is_registered_by_id_coalesced_one_at_a_time_with_its_grace_on_utc(leader, settings):
    jobs = {job.id: job for job in leader.scheduler.get_jobs()}
    specs = {spec.id: spec for spec in clock_jobs(settings)}
    assert set(jobs) == {"tick", "feeds", "retention", "leases", "prune", "overdue", "leadership"}
    for job_id, job in jobs.items():
        assert (job.coalesce, job.max_instances) == (True, 1)
        assert job.trigger.timezone == UTC
        if job_id in specs:
            assert job.misfire_grace_time == specs[job_id].grace > 1  # never APScheduler's silent 1 s
            assert job.trigger.interval.total_seconds() == specs[job_id].every
    assert jobs["tick"].trigger.interval == timedelta(seconds=settings.tick_seconds)


def test_each_run_is_recorded_with_its_outcome_duration_and_process(leader, desk, clock, db):
    desk.publish(GCR)
    clock.now = clock() + timedelta(days=100)
    outcome = leader.runner.run("tick")
    assert outcome.ok and "GCR-9101: started" in outcome.said
    row = job_row(db, "tick")
    assert (row.runs, row.failures, row.last_ok, row.last_error) == (1, 0, True, None)
    assert row.last_started_at == row.last_finished_at == clock()
    assert row.last_duration_ms >= 0 and row.last_process_id == leader.heartbeat.id
    leader.runner.run("tick")
    assert job_row(db, "tick").runs == 2


def test_a_job_that_raises_is_logged_and_recorded_and_the_clock_goes_on(clocks, settings, db, caplog, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the feeds folder should be")
    broken = clocks(calendars_dir=blocker / "calendars")
    assert broken.begin()
    with caplog.at_level(logging.ERROR, logger="changemgmt.jobs.clock"):
        outcome = broken.runner.run("retention")
    assert not outcome.ok and "NotADirectoryError" in outcome.said
    assert any("clock job retention failed" in r.getMessage() for r in caplog.records)
    row = job_row(db, "retention")
    assert (row.runs, row.failures, row.last_ok) == (1, 1, False) and "NotADirectoryError" in row.last_error
    assert broken.runner.run("tick").ok  # the other jobs go on
    assert broken.runner.run("retention") is not None  # a failed daily run is due again at once


def test_daily_jobs_run_once_a_day_whichever_clock_leads(clocks, clock, db):
    first = clocks()
    assert first.begin()
    assert first.runner.run("retention").ok and first.runner.run("prune").ok
    clock.advance(hours=1)
    assert first.runner.run("retention") is None
    first.stop()
    second = clocks()  # a restart, or another clock taking over: the record says when it last ran
    assert second.begin()
    clock.advance(hours=22)
    assert second.runner.run("retention") is None and second.runner.run("prune") is None
    clock.advance(hours=1)
    assert second.runner.run("retention").ok and second.runner.run("prune").ok
    assert job_row(db, "retention").runs == 2


def test_one_clock_leads_and_another_on_sqlite_is_refused_or_on_postgres_stands_by(clocks, engine, db):
    leader = clocks()
    assert leader.begin()
    other = clocks()
    if engine.dialect.name != "postgresql":
        with pytest.raises(ClockAlreadyRunning, match="another clock .* is running on"):
            other.begin()
        return
    assert not other.begin()
    assert other.runner.run("tick") is None  # a standby runs nothing
    assert job_row(db, "tick") is None
    leader.stop()
    assert other.election.poll()
    assert other.runner.run("tick").ok


def test_a_leader_whose_session_ends_steps_down_and_a_standby_takes_over(clocks, engine, db, caplog):
    on_postgres(engine)
    leader, standby = clocks(), clocks()
    assert leader.begin() and not standby.begin()
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": leader.election.leadership.backend_pid})
    with caplog.at_level(logging.WARNING, logger="changemgmt.jobs.clock"):
        assert leader.runner.run("tick") is None  # it re-checks before the job, and steps down
    assert any("leadership lost" in r.getMessage() for r in caplog.records)
    assert standby.election.poll() and standby.runner.run("tick").ok
    assert not leader.election.poll()  # the old leader now stands by


def test_the_leases_job_gives_back_a_dead_workers_deliveries(leader, desk, engine, clock, db):
    desk.publish(GCR)
    assert len(claim_due(engine, now=clock(), limit=10, lease=timedelta(minutes=5), worker="dead")) == 2
    clock.advance(minutes=4)
    assert leader.runner.run("leases").said == "0 delivery(ies) given back"
    clock.advance(minutes=2)
    assert leader.runner.run("leases").said == "2 delivery(ies) given back"
    with db() as session:
        assert set(session.scalars(select(models.Delivery.state))) == {"pending"}
        assert set(session.scalars(select(models.DeliveryAttempt.outcome))) == {"abandoned"}


def test_pruning_keeps_each_deliverys_latest_attempt_open_attempts_and_recent_history(
    leader, desk, engine, settings, clock, db
):
    transport = InMemoryTransport()
    worker = Worker(engine, transport, settings, clock)
    desk.publish(GCR)
    transport.fail_next(SendError("busy", permanent=False))
    worker.drain()  # Acme's first attempt fails (retry), Globex's is sent
    clock.advance(hours=3)
    worker.drain()  # Acme's second attempt is sent
    worker.close()
    with transaction(db) as session:
        apply_sendgrid_events(
            session, [{"event": "delivered", "email": "ops@globex.example", "sg_event_id": "e1"}], clock()
        )
    desk.update("GCR-9101", {"description": "Swapping two line cards."})
    claim_due(engine, now=clock(), limit=10, lease=timedelta(minutes=5), worker="stalled")  # attempts left open

    def counts():
        with db() as session:
            return (
                session.scalar(select(func.count()).select_from(models.DeliveryAttempt)),
                session.scalar(select(func.count()).select_from(models.DeliveryEvent)),
            )

    assert counts() == (5, 1)
    clock.advance(days=settings.attempt_retention_days - 1)
    assert leader.runner.run("prune").said.startswith("pruned 0 attempt(s), 0 event(s)")
    clock.advance(days=2)
    assert leader.runner.run("prune").said.startswith("pruned 1 attempt(s), 1 event(s)")
    assert counts() == (4, 0)  # Acme's failed first attempt went; every latest and open one stays


def test_pruning_drops_the_rows_of_processes_stopped_a_week_ago(leader, engine, clock, db):
    gone = Heartbeat(engine, "worker", clock, interval=3600)
    gone.start()
    gone.stop()
    clock.advance(days=6)
    running = Heartbeat(engine, "worker", clock, interval=3600)
    running.start()
    leader.runner.run("prune")
    clock.advance(days=1, seconds=1)
    leader.runner.run("prune")
    with db() as session:
        left = set(session.scalars(select(models.Process.id)))
    running.stop()
    assert gone.id not in left and running.id in left


def test_a_gcr_in_progress_past_its_window_is_flagged_once_when_nothing_completes_it(leader, desk, clock, db, caplog):
    desk.publish(GCR)
    clock.now = clock().replace(month=12, day=1, hour=7)
    leader.runner.run("tick")
    clock.advance(hours=3, minutes=59)
    assert leader.runner.run("overdue").said == "planned: nothing"
    clock.advance(minutes=1)
    with caplog.at_level(logging.WARNING, logger="changemgmt.jobs.advance"):
        assert leader.runner.run("overdue").said.startswith("GCR-9101: flagged (overdue for completion)")
    assert any("GCR-9101 flagged to change management" in r.getMessage() for r in caplog.records)
    clock.advance(hours=1)
    leader.runner.run("overdue")
    (flag,) = audit(db, "flag")
    assert (flag.entity_key, flag.actor, flag.details["flag"]) == ("GCR-9101", "clock", "overdue_for_completion")
    with db() as session:
        assert session.scalar(select(models.Gcr.status)) == Status.IN_PROGRESS.value


def test_with_automatic_completion_on_the_gcr_completes_and_is_never_flagged(clocks, desk, clock, db):
    completing = clocks(auto_complete_after=timedelta(minutes=30))
    assert completing.begin()
    desk.publish(GCR)
    clock.now = clock().replace(month=12, day=1, hour=7)
    completing.runner.run("tick")
    clock.advance(hours=4, minutes=30)
    assert completing.runner.run("overdue").said == "planned: nothing"
    assert "GCR-9101: completed" in completing.runner.run("tick").said
    assert audit(db, "flag") == []
