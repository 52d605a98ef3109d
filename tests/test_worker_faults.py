"""The worker under faults, as real processes on a private PostgreSQL cluster (so stopping
it disturbs nothing else) sending to a loopback SendGrid that records every personalization
it accepts: a worker killed mid fan-out re-sends at most its sends in flight and its
claims come back within the heartbeat timeout; a PostgreSQL restart ends no worker and
loses nothing; SIGTERM during a large backlog exits within the grace period and leaves
nothing claimed. Each test prints its figures."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from changemgmt.config import load_settings
from changemgmt.store import models
from changemgmt.store.db import make_engine, session_factory, transaction
from changemgmt.store.migrate import upgrade
from support.gcrs import Clock, Desk
from support.pgcluster import private_cluster
from support.processes import process_env, start, stopped_after, wait_for
from support.recording_sendgrid import Recording
from support.web import free_port

pytestmark = pytest.mark.slow

CONCURRENCY = 4
TIMEOUT = 3.0  # HEARTBEAT_TIMEOUT_SECONDS
FAST = {
    "HEARTBEAT_SECONDS": "0.5",
    "HEARTBEAT_TIMEOUT_SECONDS": str(TIMEOUT),
    "CLOCK_TICK_SECONDS": "1",
    "CLOCK_FEEDS_SECONDS": "1",
    "SEND_CONCURRENCY": str(CONCURRENCY),
    "EMAIL_BACKEND": "sendgrid",
    "SENDGRID_API_KEY": "SG.test-key",
    "MINIMUM_NOTICE_DAYS": "0",
}


@pytest.fixture(scope="module")
def cluster():
    with private_cluster() as made:
        upgrade(make_engine(made.url))
        yield made


def fan_out(url: str, home: Path, customers: int) -> dict[str, str]:
    """An empty outbox, `customers` customers of one contact and one service each, and a
    GCR over all their services published now: one delivery per customer, due at once.
    Returns the settings' environment."""
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        if engine.dialect.name != "postgresql":
            return _fan_out_in(engine, url, home, customers)
        names = ", ".join(f'"{t.name}"' for t in models.Base.metadata.sorted_tables)
        connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    return _fan_out_in(engine, url, home, customers)


def _fan_out_in(engine, url: str, home: Path, customers: int) -> dict[str, str]:
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for n in range(customers):
            customer = models.Customer(account=f"ACC-{n:05d}", name=f"Customer {n}", time_zone="UTC")
            session.add(customer)
            session.add(models.Contact(customer=customer, email=f"noc{n}@example.com", name=f"NOC {n}"))
            session.add(models.Service(service_id=f"SVC-{n:05d}", customer=customer, product="Ethernet"))
    env = {"CHANGEMGMT_HOME": str(home), "DATABASE_URL": url, "SECRET_KEY": "k" * 32, **FAST}
    now = datetime.now(UTC)
    start_at = now + timedelta(days=10)
    Desk(sessions, load_settings(env), Clock(now)).publish(
        {
            "number": "GCR-7001",
            "title": "Core upgrade",
            "description": "Upgrading the core.",
            "windows": [{"start": start_at.isoformat(), "end": (start_at + timedelta(hours=2)).isoformat()}],
            "impacts": [{"service": f"SVC-{n:05d}"} for n in range(customers)],
        }
    )
    engine.dispose()
    return env


class Outbox:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = session_factory(self.engine)

    def count(self, state: str) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).where(models.Delivery.state == state))

    def claimed_by(self, process_id: str) -> set[int]:
        with self.sessions() as session:
            return set(
                session.scalars(
                    select(models.Delivery.id).where(
                        models.Delivery.claimed_by == process_id, models.Delivery.state == "sending"
                    )
                )
            )

    def process_id(self, pid: int) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(models.Process.id).where(models.Process.pid == pid))

    def safe(self, probe):
        try:
            return probe()
        except Exception:  # noqa: BLE001 - the database is restarting: ask again
            return None


def counts(accepted: Counter, delivery: int) -> int:
    return sum(n for (d, _), n in accepted.items() if d == delivery)


def duplicates(recording: Recording) -> set[int]:
    return {delivery for (delivery, _), times in recording.accepted().items() if times > 1}


def test_kill_9_mid_fan_out_re_sends_at_most_the_sends_in_flight_and_the_rows_come_back_within_the_timeout(
    cluster, tmp_path
):
    total = 1500
    env = process_env(fan_out(cluster.url, tmp_path, total))
    outbox = Outbox(cluster.url)
    figures = []
    with Recording(tmp_path / "accepted.txt", delay=0.04) as recording, stopped_after() as processes:
        env["SENDGRID_API_HOST"] = recording.url
        processes.append(start(env, "clock", log=tmp_path / "clock.log"))
        workers = [start(env, "worker", "--idle", "0.2", log=tmp_path / f"worker-{n}.log") for n in (1, 2)]
        processes += workers
        before: Counter = Counter()
        for round_, share in enumerate((0.15, 0.4, 0.65)):
            wait_for(lambda: outbox.count("sent") >= total * share, 120, f"{share:.0%} sent")  # noqa: B023
            victim = workers[round_ % 2]
            victim_id = wait_for(lambda: outbox.process_id(victim.pid), 10, "the victim's heartbeat")  # noqa: B023
            victim.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            victim.wait()
            held = outbox.claimed_by(victim_id)
            time.sleep(0.3)  # the server finishes the requests the victim had sent
            at_kill = recording.accepted()
            wait_for(lambda: not outbox.claimed_by(victim_id), 30, "the killed worker's rows back")  # noqa: B023
            back = time.monotonic() - killed
            replacement = start(env, "worker", "--idle", "0.2", log=tmp_path / f"worker-r{round_}.log")
            workers[round_ % 2] = replacement
            processes.append(replacement)
            # Its duplicates: what it held and had sent since the last kill (so not recorded).
            re_sent = {d for d in held if counts(at_kill, d) > counts(before, d)}
            before = at_kill
            figures.append((len(held), back, re_sent))
        wait_for(lambda: outbox.count("sent") == total, 180, "every delivery sent")
        accepted = recording.accepted()
    per_kill = [len(re_sent) for _, _, re_sent in figures]
    extra_copies = sum(accepted.values()) - len(accepted)
    print(
        f"\nkill -9 x3, send concurrency {CONCURRENCY}: duplicates per kill {per_kill} ({extra_copies} extra copies "
        f"accepted in all); rows held at the kill "
        f"{[n for n, _, _ in figures]}, back after {', '.join(f'{b:.1f}' for _, b, _ in figures)} s "
        f"(heartbeat timeout {TIMEOUT} s)"
    )
    assert len(accepted) == total  # every delivery's personalization accepted: 0 lost
    assert all(n <= CONCURRENCY for n in per_kill)
    assert extra_copies == sum(per_kill)  # only what a killed worker had sent and not recorded went twice
    assert all(back <= TIMEOUT + 2.5 for _, back, _ in figures)


def test_a_postgresql_restart_mid_fan_out_ends_no_worker_and_loses_nothing(cluster, tmp_path):
    total = 1200
    env = process_env(fan_out(cluster.url, tmp_path, total))
    outbox = Outbox(cluster.url)
    with Recording(tmp_path / "accepted.txt", delay=0.04) as recording, stopped_after() as processes:
        env["SENDGRID_API_HOST"] = recording.url
        processes.append(start(env, "clock", log=tmp_path / "clock.log"))
        workers = [start(env, "worker", "--idle", "0.2", log=tmp_path / f"worker-{n}.log") for n in (1, 2)]
        processes += workers
        wait_for(lambda: outbox.count("sent") >= total * 0.3, 120, "30% sent")
        down = cluster.restart(down_for=TIMEOUT + 1)  # longer than the heartbeat timeout
        wait_for(lambda: outbox.safe(lambda: outbox.count("sent")) == total, 180, "every delivery sent")
        running = [w.poll() is None for w in workers]
        repeated = duplicates(recording)
        accepted = recording.accepted()
    print(f"\nPostgreSQL down {down:.1f} s mid fan-out: duplicates {len(repeated)}, workers running {running}")
    assert running == [True, True]
    assert len(accepted) == total
    assert len(repeated) <= 2 * CONCURRENCY


def test_sigterm_during_a_large_backlog_exits_within_the_grace_period_leaving_nothing_claimed(cluster, tmp_path):
    total, grace = 1200, 5.0
    env = process_env(fan_out(cluster.url, tmp_path, total), WORKER_GRACE_SECONDS=str(grace))
    outbox = Outbox(cluster.url)
    with Recording(tmp_path / "accepted.txt", delay=0.04) as recording:
        env["SENDGRID_API_HOST"] = recording.url
        worker = start(env, "worker", "--idle", "0.2", log=tmp_path / "worker-1.log")
        wait_for(lambda: outbox.count("sent") >= total * 0.1, 120, "10% sent")
        asked = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        status = worker.wait(timeout=60)
        took = time.monotonic() - asked
        left_claimed, left_pending = outbox.count("sending"), outbox.count("pending")
        rest = subprocess.run(
            [*worker.args[:3], "worker", "--once"], env=env, capture_output=True, text=True, timeout=300
        )
        assert rest.returncode == 0, rest.stderr
        repeated = duplicates(recording)
        accepted = recording.accepted()
    print(f"\nSIGTERM with {left_pending} deliveries waiting: exit {status} after {took:.2f} s (grace {grace} s)")
    assert status == 0 and took < grace
    assert left_claimed == 0 and left_pending > 0
    assert len(accepted) == total and not repeated
    assert outbox.count("sent") == total


def test_sigterm_abandons_a_send_that_hangs_and_still_exits_within_the_grace_period(cluster, tmp_path):
    total, grace = 300, 3.0
    env = process_env(fan_out(cluster.url, tmp_path, total), WORKER_GRACE_SECONDS=str(grace))
    outbox = Outbox(cluster.url)
    with Recording(tmp_path / "accepted.txt", hang_after=50) as recording:
        env["SENDGRID_API_HOST"] = recording.url
        worker = start(env, "worker", "--idle", "0.2", log=tmp_path / "worker.log")
        wait_for(lambda: outbox.count("sent") >= 50, 60, "50 sent")
        time.sleep(0.5)  # the sends after the 50th are hanging now
        asked = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        status = worker.wait(timeout=60)
        took = time.monotonic() - asked
    with outbox.sessions() as session:
        abandoned = session.scalar(select(func.count()).where(models.DeliveryAttempt.outcome == "abandoned"))
    print(f"\nSIGTERM with {abandoned} sends hanging: exit {status} after {took:.2f} s (grace {grace} s)")
    assert status == 0 and took < grace
    assert outbox.count("sending") == 0
    assert 0 < abandoned <= CONCURRENCY
    assert outbox.count("sent") + outbox.count("pending") == total


def test_sigterm_to_serve_on_sqlite_during_a_backlog_exits_0_within_the_grace_period_leaving_nothing_claimed(
    tmp_path,
):
    total, grace = 600, 5.0
    url = f"sqlite:///{tmp_path / 'var' / 'changemgmt.db'}"
    (tmp_path / "var").mkdir()
    env = process_env(fan_out(url, tmp_path, total), WORKER_GRACE_SECONDS=str(grace), PORT=str(free_port()))
    outbox = Outbox(url)
    with Recording(tmp_path / "accepted.txt", delay=0.04) as recording:
        env["SENDGRID_API_HOST"] = recording.url
        serve = start(env, "serve", log=tmp_path / "serve.log")
        wait_for(lambda: outbox.count("sent") >= total * 0.1, 120, "10% sent")
        asked = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        status = serve.wait(timeout=60)
        took = time.monotonic() - asked
        left_claimed, left_pending = outbox.count("sending"), outbox.count("pending")
        rest = subprocess.run(
            [*serve.args[:3], "worker", "--once"], env=env, capture_output=True, text=True, timeout=300
        )
        assert rest.returncode == 0, rest.stderr
        accepted = recording.accepted()
    print(
        f"\nserve, SIGTERM with {left_pending} deliveries waiting: exit {status} after {took:.2f} s (grace {grace} s)"
    )
    # The worker is done within the grace period; the clock then lets a running job (a
    # feed rebuild) finish: a little more, in a busy test machine.
    assert status == 0 and took < grace + 2
    assert left_claimed == 0 and left_pending > 0
    assert len(accepted) == total and sum(accepted.values()) == total
