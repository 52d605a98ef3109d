"""/metrics scraped from a real uvicorn and read with prometheus_client's parser: the
figures come from the database (what the clock and the workers recorded), at the
injected clock's time."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from changemgmt.delivery.transports import InMemoryTransport, SendError
from changemgmt.delivery.worker import Worker
from changemgmt.domain.notice import NoticeKind
from changemgmt.jobs.heartbeat import Heartbeat
from changemgmt.store import models
from changemgmt.store.db import transaction
from changemgmt.web.app import create_app
from support.asgi_server import serving
from support.web import free_port

GCR = {
    "number": "GCR-6001",
    "title": "Fibre splice",
    "description": "Splicing fibre.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}],
}


class Scraped:
    """Every sample of one scrape, by name and labels."""

    def __init__(self, text: str) -> None:
        self.types = {}
        self.samples: dict[str, dict[tuple, float]] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples[name][tuple(sorted(labels.items()))]

    def labels(self, name: str, label: str) -> set[str]:
        return {dict(key)[label] for key in self.samples.get(name, {})}


def scrape(url: str) -> Scraped:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scraped(response.text)


@pytest.fixture
def app(settings, clock):
    return create_app(settings, clock=clock)


def test_notices_deliveries_the_due_queue_and_feed_rebuilds(desk, app, engine, settings, clock, db):
    published = clock()
    desk.publish(GCR)
    transport = InMemoryTransport()
    transport.fail_next(SendError("busy", permanent=False))
    worker = Worker(engine, transport, settings, clock, rng=random.Random(1))
    assert worker.drain() == 2
    worker.close()
    clock.advance(hours=1)
    with db() as session:
        retry_at = session.scalar(select(models.Delivery.next_attempt_at).where(models.Delivery.state == "pending"))
        rebuild_requests = session.scalar(select(func.count()).select_from(models.FeedRebuild))
    with serving(app) as url:
        metrics = scrape(url)
    for kind in NoticeKind:
        new = kind is NoticeKind.NEW
        assert metrics("changemgmt_notices_planned_total", kind=kind.value) == (2 if new else 0)
        assert metrics("changemgmt_notices_sent_total", kind=kind.value) == (1 if new else 0)
        assert metrics("changemgmt_notices_pending", kind=kind.value) == (1 if new else 0)
        assert metrics("changemgmt_notices_failed_total", kind=kind.value) == 0
        assert metrics("changemgmt_notices_skipped_total", kind=kind.value) == 0
    assert metrics.types["changemgmt_notices_planned"] == "counter"
    states = {
        state: metrics("changemgmt_deliveries", state=state)
        for state in metrics.labels("changemgmt_deliveries", "state")
    }
    assert states == {"pending": 1, "sending": 0, "sent": 1, "failed": 0, "skipped": 0}
    assert metrics("changemgmt_deliveries_due") == 1
    assert metrics("changemgmt_oldest_due_delivery_age_seconds") == (clock() - retry_at).total_seconds()
    assert rebuild_requests > 0 and metrics("changemgmt_feed_rebuilds_pending") == rebuild_requests
    assert metrics("changemgmt_feed_rebuild_oldest_request_age_seconds") == (clock() - published).total_seconds()
    assert metrics("changemgmt_database_up") == 1


def add_attempts(db, delivery_id: int, now, attempts: list[tuple[str | None, float, float]]) -> None:
    """Attempts (outcome, seconds before now it finished, seconds it took)."""
    with transaction(db) as session:
        for number, (outcome, ago, took) in enumerate(attempts, start=10):
            finished = now - timedelta(seconds=ago)
            session.add(
                models.DeliveryAttempt(
                    delivery_id=delivery_id,
                    number=number,
                    started_at=finished - timedelta(seconds=took),
                    finished_at=None if outcome is None else finished,
                    outcome=outcome,
                )
            )


def test_attempt_durations_of_the_last_ten_minutes_as_cumulative_buckets(desk, app, db, clock):
    desk.publish(GCR)
    with db() as session:
        delivery_id = session.scalar(select(func.min(models.Delivery.id)))
    add_attempts(
        db,
        delivery_id,
        clock(),
        [
            ("sent", 10, 0.2),
            ("sent", 60, 0.7),
            ("sent", 599, 4.0),
            ("retry", 30, 45.0),
            ("unknown", 20, 10.0),  # sent, no answer came: counted
            ("failed", 5, 0.04),
            ("sent", 601, 0.2),  # finished before the window
            ("skipped", 5, 0.2),  # no provider call
            ("abandoned", 5, 300.0),  # the worker never finished it
            (None, 5, 1.0),  # still open
        ],
    )
    with serving(app) as url:
        metrics = scrape(url)
    assert metrics.types["changemgmt_delivery_attempt_seconds"] == "histogram"
    sent = {
        le: metrics("changemgmt_delivery_attempt_seconds_bucket", outcome="sent", le=le)
        for le in ("0.1", "0.25", "1.0", "5.0", "+Inf")
    }
    assert sent == {"0.1": 0, "0.25": 1, "1.0": 2, "5.0": 3, "+Inf": 3}
    assert metrics("changemgmt_delivery_attempt_seconds_gcount", outcome="sent") == 3
    assert metrics("changemgmt_delivery_attempt_seconds_gsum", outcome="sent") == pytest.approx(4.9, abs=1e-3)
    assert metrics("changemgmt_delivery_attempt_seconds_bucket", outcome="retry", le="30.0") == 0
    assert metrics("changemgmt_delivery_attempt_seconds_bucket", outcome="retry", le="60.0") == 1
    assert metrics("changemgmt_delivery_attempt_seconds_bucket", outcome="failed", le="0.05") == 1
    assert metrics("changemgmt_delivery_attempt_seconds_gcount", outcome="unknown") == 1
    assert metrics.labels("changemgmt_delivery_attempt_seconds_bucket", "outcome") == {
        "sent",
        "retry",
        "unknown",
        "failed",
    }


def test_clock_jobs_and_the_heartbeats_of_running_processes(app, engine, db, clock):
    with transaction(db) as session:
        session.add_all(
            [
                models.ClockJob(id="tick", runs=120, failures=2, last_finished_at=clock(), last_duration_ms=1500),
                models.ClockJob(id="prune", runs=0, failures=0),
                models.Process(
                    id="worker-gone-1-1", kind="worker", host="gone", pid=1, started_at=clock() - timedelta(hours=3),
                    beat_at=clock() - timedelta(hours=2), leader=False,
                ),
            ]
        )  # fmt: skip
    clock_process = Heartbeat(engine, "clock", clock, interval=3600)
    clock_process.start()
    clock_process.set_leader(True)
    stopped = Heartbeat(engine, "worker", clock, interval=3600)
    stopped.start()
    stopped.stop()
    clock.advance(seconds=12)
    with serving(app) as url:
        metrics = scrape(url)
    clock_process.stop()
    assert metrics("changemgmt_clock_job_runs_total", job="tick") == 120
    assert metrics("changemgmt_clock_job_failures_total", job="tick") == 2
    assert metrics("changemgmt_clock_job_last_run_age_seconds", job="tick") == 12
    assert metrics("changemgmt_clock_job_last_duration_seconds", job="tick") == 1.5
    assert metrics("changemgmt_clock_job_runs_total", job="prune") == 0
    assert metrics.labels("changemgmt_clock_job_last_run_age_seconds", "job") == {"tick"}  # prune never ran
    # Only the running process: not the stopped one, nor one silent for two hours.
    assert metrics.samples["changemgmt_process_heartbeat_age_seconds"] == {
        (("id", clock_process.id), ("kind", "clock")): 12
    }
    assert metrics("changemgmt_process_leader", kind="clock", id=clock_process.id) == 1


def test_scrapes_within_seconds_share_one_reading(desk, app, db):
    with serving(app) as url:
        first = scrape(url)
        desk.publish(GCR)
        second = scrape(url)
    assert first("changemgmt_notices_planned_total", kind="new") == 0
    assert second.samples == first.samples


def test_a_database_that_cannot_be_read_is_a_metric_not_an_error(settings, clock):
    unreachable = replace(settings, database_url=f"postgresql://cm@127.0.0.1:{free_port()}/cm")
    with serving(create_app(unreachable, clock=clock)) as url:
        metrics = scrape(url)
    assert metrics.samples == {"changemgmt_database_up": {(): 0}}


def test_openmetrics_when_the_scraper_asks_for_it(app, db):
    with serving(app) as url:
        response = httpx.get(f"{url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    types = {family.name: family.type for family in openmetrics_families(response.text)}
    assert types["changemgmt_delivery_attempt_seconds"] == "gaugehistogram"
    assert types["changemgmt_notices_planned"] == "counter"
