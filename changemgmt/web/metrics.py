"""/metrics in the Prometheus text format (or OpenMetrics, when the scraper asks for it),
with prometheus_client. The figures come from the database (web/figures.py), read in a
thread at most once every `ttl` seconds whatever the number of scrapers; the README's
"Metrics" section says what each metric means.

Counters here are counts of rows that only grow (every notice ever planned, every one
sent...), so Prometheus's rate() works on them across web processes and restarts. The
attempt durations are a gauge histogram: the attempts of the last ten minutes, read as
they are now, so quantiles come from the buckets as they stand
(histogram_quantile(0.99, sum by (le) (changemgmt_delivery_attempt_seconds_bucket))), not
from their rate."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from sqlalchemy import Engine

from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.states import DeliveryState, NoticeState
from changemgmt.web.cached import CachedInThread
from changemgmt.web.figures import BUCKETS, TIMED, Figures, read_figures
from changemgmt.web.respond import allowed, not_allowed, respond

log = logging.getLogger(__name__)

NOTICE_COUNTERS = {  # metric -> the notice states it counts
    "changemgmt_notices_sent": (NoticeState.SENT,),
    "changemgmt_notices_failed": (NoticeState.FAILED,),
    "changemgmt_notices_skipped": (NoticeState.SKIPPED, NoticeState.NO_RECIPIENT),
}


def notice_families(figures: Figures) -> Iterable[Metric]:
    kinds = [kind.value for kind in NoticeKind]
    by_kind: dict[str, dict[str, int]] = {kind: {} for kind in kinds}
    for (kind, state), count in figures.notices.items():
        by_kind.setdefault(kind, {})[state] = count
    planned = CounterMetricFamily("changemgmt_notices_planned", "Notices planned, by kind.", labels=["kind"])
    pending = GaugeMetricFamily("changemgmt_notices_pending", "Notices not yet settled, by kind.", labels=["kind"])
    for kind, states in by_kind.items():
        planned.add_metric([kind], sum(states.values()))
        pending.add_metric([kind], states.get(NoticeState.PENDING.value, 0))
    yield planned
    yield pending
    for name, counted in NOTICE_COUNTERS.items():
        what = "/".join(state.value for state in counted)
        family = CounterMetricFamily(name, f"Notices settled as {what}, by kind.", labels=["kind"])
        for kind, states in by_kind.items():
            family.add_metric([kind], sum(states.get(state.value, 0) for state in counted))
        yield family


def delivery_families(figures: Figures) -> Iterable[Metric]:
    states = GaugeMetricFamily("changemgmt_deliveries", "Deliveries, by state.", labels=["state"])
    for state in sorted({s.value for s in DeliveryState} | set(figures.deliveries)):
        states.add_metric([state], figures.deliveries.get(state, 0))
    yield states
    yield GaugeMetricFamily("changemgmt_deliveries_due", "Pending deliveries due now.", value=figures.due)
    yield GaugeMetricFamily(
        "changemgmt_oldest_due_delivery_age_seconds",
        "How long the oldest due delivery has been due (0 when none is).",
        value=_age(figures.now, figures.oldest_due),
    )
    durations = GaugeHistogramMetricFamily(
        "changemgmt_delivery_attempt_seconds",
        "Delivery attempts that called the provider and finished in the last 10 minutes, by outcome: "
        "seconds from the claim to the recorded outcome.",
        labels=["outcome"],
    )
    for outcome in TIMED:
        found = figures.durations.get(outcome.value)
        within = found.within if found else (0,) * len(BUCKETS)
        count, total = (found.count, found.total) if found else (0, 0.0)
        buckets = [(_bound(b), float(n)) for b, n in zip(BUCKETS, within)] + [("+Inf", float(count))]
        durations.add_metric([outcome.value], buckets, total)
    yield durations


def feed_families(figures: Figures) -> Iterable[Metric]:
    yield GaugeMetricFamily(
        "changemgmt_feed_rebuilds_pending", "Feed rebuild requests not yet done.", value=figures.rebuild_requests
    )
    yield GaugeMetricFamily(
        "changemgmt_feed_rebuild_oldest_request_age_seconds",
        "Age of the oldest feed rebuild request not yet done (0 when none is).",
        value=_age(figures.now, figures.oldest_rebuild_request),
    )


def clock_families(figures: Figures) -> Iterable[Metric]:
    runs = CounterMetricFamily("changemgmt_clock_job_runs", "Runs of each clock job.", labels=["job"])
    failures = CounterMetricFamily("changemgmt_clock_job_failures", "Failed runs of each clock job.", labels=["job"])
    since = GaugeMetricFamily(
        "changemgmt_clock_job_last_run_age_seconds", "Seconds since each clock job last finished.", labels=["job"]
    )
    took = GaugeMetricFamily(
        "changemgmt_clock_job_last_duration_seconds", "How long each clock job's last run took.", labels=["job"]
    )
    for job in figures.clock_jobs:
        runs.add_metric([job.id], job.runs)
        failures.add_metric([job.id], job.failures)
        if job.last_finished_at is not None:
            since.add_metric([job.id], _age(figures.now, job.last_finished_at))
        if job.last_duration_ms is not None:
            took.add_metric([job.id], job.last_duration_ms / 1000)
    yield from (runs, failures, since, took)


def process_families(figures: Figures) -> Iterable[Metric]:
    labels = ["kind", "id"]
    age = GaugeMetricFamily(
        "changemgmt_process_heartbeat_age_seconds",
        "Seconds since each running process's last heartbeat.",
        labels=labels,
    )
    leader = GaugeMetricFamily(
        "changemgmt_process_leader", "1 for the clock process that holds the lead.", labels=labels
    )
    for process in figures.processes:
        age.add_metric([process.kind, process.id], _age(figures.now, process.beat_at))
        leader.add_metric([process.kind, process.id], 1 if process.leader else 0)
    yield from (age, leader)


FAMILIES = (notice_families, delivery_families, feed_families, clock_families, process_families)


class Snapshot:
    """Metric families read once, as prometheus_client's encoders take a collector."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


class Metrics:
    """The /metrics endpoint over `engine()`, at the time `clock()` gives."""

    def __init__(self, engine: Callable[[], Engine], clock: Callable[[], datetime], ttl: float = 5.0) -> None:
        self.engine, self.clock = engine, clock
        self._snapshot = CachedInThread(self._collect, ttl)
        self._failing = False

    def _collect(self) -> Snapshot:
        started = time.perf_counter()
        try:
            figures = read_figures(self.engine(), self.clock())
        except Exception as exc:  # noqa: BLE001 - the scrape still answers: changemgmt_database_up 0
            if not self._failing:
                log.warning("metrics: the database cannot be read: %s", exc, extra={"event": "metrics_unreadable"})
            self._failing = True
            return Snapshot([_gauge("changemgmt_database_up", "1 when the figures could be read.", 0)])
        self._failing = False
        metrics = [metric for families in FAMILIES for metric in families(figures)]
        metrics.append(_gauge("changemgmt_database_up", "1 when the figures could be read.", 1))
        took = time.perf_counter() - started
        metrics.append(_gauge("changemgmt_metrics_read_seconds", "How long reading the figures took.", took))
        return Snapshot(metrics)

    async def __call__(self, scope, receive, send) -> None:
        if not allowed(scope):
            await not_allowed(scope, send)
            return
        snapshot = await self._snapshot.get()
        accept = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"accept"), "")
        encode, content_type = choose_encoder(accept)
        await respond(scope, send, 200, encode(snapshot), content_type.encode())


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _age(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())


def _bound(seconds: float) -> str:
    return repr(float(seconds))
