"""Benchmark: the clock and one worker as real processes on PostgreSQL. Reminders fall due
while the worker is delivering a 20,000-customer fan-out: how late does each reach the
loopback SendGrid? Then the leading clock is killed (kill -9), again and again: how long
until the standby runs its first job?

    .venv/bin/python bench/clock.py --pg-url postgresql://postgres@127.0.0.1:5432/
        [--customers 20000 --services 100000 --contacts 40000]
        [--reminder-gcrs 5 --reminder-customers 200 --spacing 8] [--failovers 3]

With a database in the URL, everything in it is dropped and rebuilt; with none, the bench
creates `cm_clock_<pid>` and drops it at the end. The processes run with the shipped
defaults (a tick every 5 s, reminders planned 60 s ahead, a heartbeat every 5 s):

1. setup (not measured): the inventory, the big GCR as a draft; the SendGrid stand-in
   (pinned to one core, recording when it took each notice), `changemgmt worker` (pinned
   to the other) and `changemgmt clock`;
2. `--reminder-gcrs` small GCRs, each over `--reminder-customers` customers of their own,
   published with windows 72 h and a minute or so away, their 72 h reminders due
   `--spacing` seconds apart; their `new` notices go out first;
3. the big GCR is published (every customer: about 20,000 notices) so that its planning
   ends some seconds before the first reminder is due: the reminders fall due while the
   worker works through that backlog;
4. each reminder's delay: when the SendGrid stand-in took it, less its due moment
   (p50, p99, max; target p99 < 5 s), with how many of the fan-out's notices were still
   waiting at each due moment;
5. failover: a standby clock beside the leader; kill -9 the leader; the seconds until the
   standby's first job run (clock_jobs); `--failovers` times (target < 10 s).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench.support.phases import bench_settings, setup  # noqa: E402
from bench.support.servers import LoopbackSendGrid, Processes, databases  # noqa: E402
from bench.support.world import GCR_NUMBER, Size  # noqa: E402
from changemgmt.domain.states import DeliveryState  # noqa: E402
from changemgmt.domain.status import Status  # noqa: E402
from changemgmt.gcrs.input import parse_patch  # noqa: E402
from changemgmt.gcrs.service import Who, change_status, create_gcr  # noqa: E402
from changemgmt.store.db import make_engine, session_factory, transaction  # noqa: E402
from changemgmt.store.models import ClockJob, Delivery, Gcr, Notice, Process  # noqa: E402

WORKER_CPU, SERVER_CPU = 0, 1
UNSETTLED = (DeliveryState.PENDING.value, DeliveryState.SENDING.value)
PLANNING_ALLOWANCE = timedelta(seconds=25)  # publishing the big GCR, then some seconds of backlog


def wait_for(what: str, seconds: float, found, processes: list[subprocess.Popen] = ()):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        for process in processes:
            if process.poll() is not None:
                sys.exit(f"a process exited ({process.args[3:]}, code {process.returncode}) while waiting for {what}")
        time.sleep(0.05)
    sys.exit(f"timed out after {seconds:g} s waiting for {what}")


def reminder_services(engine, gcrs: int, customers: int) -> list[list[str]]:
    """For each small GCR, one service of each of `customers` customers with contacts of
    their own, no customer in two GCRs."""
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT min(s.service_id) FROM services s "
                "WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.customer_id = s.customer_id) "
                "GROUP BY s.customer_id ORDER BY s.customer_id LIMIT :n"
            ),
            {"n": gcrs * customers},
        ).scalars()
        services = list(found)
    return [services[i * customers : (i + 1) * customers] for i in range(gcrs)]


def small_gcr(number: int, start: datetime, services: list[str]) -> dict:
    return {
        "number": f"GCR-{number}",
        "title": "Line card replacement",
        "description": "Replacing a failed line card in the aggregation router.",
        "windows": [{"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}],
        "impacts": [{"service": service, "impact": "OUTAGE", "max_outage_minutes": 15} for service in services],
    }


def publish(sessions, settings, document: dict | None, number: str, reason: str | None = None) -> None:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        if document:
            create_gcr(session, parse_patch(document), Who("bench", now, settings))
        change_status(session, number, Status.CONFIRMED, Who("bench", now, settings), override_reason=reason)


def outbox_empty(sessions) -> bool:
    with sessions() as session:
        return not session.scalar(select(func.count()).select_from(Delivery).where(Delivery.state.in_(UNSETTLED)))


def notices_sent(sessions, numbers: list[str], kind: str | None = None, column=Notice.due_at) -> dict[int, datetime]:
    """{notice id: due moment (or `column`)} of the notices of these GCRs that have a
    delivery (a customer without recipients has a notice but nothing to send)."""
    query = (
        select(Notice.id, column)
        .join(Gcr, Gcr.id == Notice.gcr_id)
        .where(Gcr.number.in_(numbers), select(Delivery.id).where(Delivery.notice_id == Notice.id).exists())
    )
    if kind:
        query = query.where(Notice.kind == kind)
    with sessions() as session:
        return dict(session.execute(query).all())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_reminders(args, url: str, home: str) -> bool:
    engine = make_engine(url)
    sessions = session_factory(engine)
    size = Size(args.customers, args.services, args.contacts)
    print(f"setup: {size.label()} ...", flush=True)
    built = setup(url, home, size, windows=1)
    print(f"setup: inventory {built['inventory_seconds']:.1f} s, draft GCR {built['create_seconds']:.1f} s")
    server = LoopbackSendGrid(SERVER_CPU if len(os.sched_getaffinity(0)) > 1 else WORKER_CPU, record=True)
    processes = Processes(url, home, server.url)
    settings = bench_settings(url, home, server.url)
    try:
        worker = processes.start("worker", cpu=WORKER_CPU)
        clock = processes.start("clock")
        clock_id = wait_for("the clock's heartbeat", 60, lambda: heartbeat_of(sessions, clock.pid), [worker, clock])
        wait_for("the clock to lead", 60, lambda: leads(sessions, clock_id), [worker, clock])

        first_due = (datetime.now(UTC) + timedelta(seconds=args.lead)).replace(microsecond=0)
        numbers = []
        for i, services in enumerate(reminder_services(engine, args.reminder_gcrs, args.reminder_customers)):
            number = 800001 + i
            due = first_due + timedelta(seconds=i * args.spacing)
            document = small_gcr(number, due + timedelta(hours=72), services)
            publish(sessions, settings, document, f"GCR-{number}", reason="bench: a window three days out")
            numbers.append(f"GCR-{number}")
        print(f"{len(numbers)} small GCRs published; their first notices going out", flush=True)
        wait_for("the small GCRs' first notices", 120, lambda: outbox_empty(sessions), [worker, clock])

        publish_at = first_due - PLANNING_ALLOWANCE
        pause = (publish_at - datetime.now(UTC)).total_seconds()
        if pause < 0:
            sys.exit(f"the first notices took too long: {-pause:.0f} s past the moment to publish; raise --lead")
        time.sleep(pause)
        started = time.perf_counter()
        publish(sessions, settings, None, GCR_NUMBER)
        planned = time.perf_counter() - started
        fanout = notices_sent(sessions, [GCR_NUMBER], column=Notice.created_at)
        print(
            f"big GCR published: {len(fanout):,} notices to send, planned in {planned:.1f} s, "
            f"{(first_due - datetime.now(UTC)).total_seconds():.1f} s before the first reminder is due",
            flush=True,
        )
        wait_for("the fan-out and the reminders", 1800, lambda: outbox_empty(sessions), [worker, clock])
        accepted = server.accepted()
    finally:
        processes.stop()
        server.stop()
    return report_reminders(accepted, notices_sent(sessions, numbers, "reminder"), fanout, args)


def leads(sessions, process_id: str) -> bool:
    with sessions() as session:
        return bool(session.scalar(select(Process.leader).where(Process.id == process_id)))


def report_reminders(accepted, reminders: dict[int, datetime], fanout: dict[int, datetime], args) -> bool:
    """`reminders`: {notice id: due moment}; `fanout`: {notice id: when it was planned}."""
    taken: dict[int, float] = {}
    for notice, _, at in accepted:
        taken.setdefault(notice, at)  # a notice's first personalization: its request's moment
    copies = len(accepted) - len({(notice, contact) for notice, contact, _ in accepted})
    delays = [taken[n] - due.timestamp() for n, due in reminders.items() if n in taken]
    lost = [n for n in reminders if n not in taken]
    print(f"\n== reminders during the fan-out ({len(reminders):,} reminders, {len(fanout):,} fan-out notices) ==")
    for moment in sorted(set(reminders.values())):
        at = moment.timestamp()
        waiting = sum(1 for n, planned in fanout.items() if planned.timestamp() <= at < taken.get(n, float("inf")))
        batch = [taken[n] - moment.timestamp() for n, due in reminders.items() if due == moment and n in taken]
        print(
            f"due {moment:%H:%M:%S}: {len(batch):4} reminders, {waiting:6,} fan-out notices still waiting; "
            f"delay max {max(batch):.2f} s"
        )
    if not delays:
        print("no reminder was sent")
        return False
    p99 = percentile(delays, 0.99)
    print(
        f"delay from due moment to acceptance: p50 {percentile(delays, 0.5):.2f} s, p99 {p99:.2f} s, "
        f"max {max(delays):.2f} s, min {min(delays):.2f} s; target p99 < 5 s: {'met' if p99 < 5 else 'NOT met'}"
    )
    early = [d for d in delays if d < 0]
    print(f"sent before their moment: {len(early)}; lost: {len(lost)}; emails sent twice to a contact: {copies}")
    return p99 < 5 and not lost and not early


def measure_failover(args, url: str, home: str) -> bool:
    sessions = session_factory(make_engine(url))
    processes = Processes(url, home, "http://127.0.0.1:9")
    figures = []
    try:
        leading = processes.start("clock")
        leading_id = wait_for("the clock's heartbeat", 60, lambda: heartbeat_of(sessions, leading.pid), [leading])
        wait_for("the clock to lead", 60, lambda: leads(sessions, leading_id), [leading])
        for _ in range(args.failovers):
            standby = processes.start("clock")
            standby_id = wait_for("its heartbeat", 60, partial(heartbeat_of, sessions, standby.pid), [standby])
            time.sleep(args.settle)  # the leader at its ordinary work, the standby polling
            if not leads(sessions, leading_id) or leads(sessions, standby_id):
                sys.exit(f"expected {leading_id} to lead and {standby_id} to stand by")
            killed = datetime.now(UTC)
            leading.send_signal(signal.SIGKILL)
            leading.wait()
            took = wait_for("the standby's first job", 60, partial(first_run_by, sessions, standby_id, killed))
            figures.append((took - killed).total_seconds())
            leading, leading_id = standby, standby_id
    finally:
        processes.stop()
    print(f"\n== clock failover (kill -9 of the leader to the standby's first job run), {len(figures)} times ==")
    print(
        "seconds: " + ", ".join(f"{f:.2f}" for f in figures) + f"; max {max(figures):.2f} s; "
        f"target < 10 s: {'met' if max(figures) < 10 else 'NOT met'}"
    )
    return max(figures) < 10


def heartbeat_of(sessions, pid: int) -> str | None:
    with sessions() as session:
        return session.scalar(select(Process.id).where(Process.pid == pid))


def first_run_by(sessions, process_id: str, after: datetime) -> datetime | None:
    with sessions() as session:
        return session.scalar(
            select(func.min(ClockJob.last_started_at)).where(
                ClockJob.last_process_id == process_id, ClockJob.last_started_at > after
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("DATABASE_URL"),
        required="DATABASE_URL" not in os.environ,
        help="PostgreSQL server (a database is created) or database (emptied!).",
    )
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--services", type=int, default=100000)
    parser.add_argument("--contacts", type=int, default=40000)
    parser.add_argument("--reminder-gcrs", type=int, default=5, help="Small GCRs whose reminders fall due.")
    parser.add_argument("--reminder-customers", type=int, default=200, help="Customers of each small GCR.")
    parser.add_argument("--spacing", type=float, default=8, help="Seconds between the small GCRs' reminders.")
    parser.add_argument("--lead", type=float, default=90, help="Seconds from setup to the first reminder.")
    parser.add_argument("--failovers", type=int, default=3, help="Times to kill the leading clock (0: none).")
    parser.add_argument("--settle", type=float, default=6, help="Seconds a standby waits before the kill.")
    parser.add_argument("--keep", action="store_true", help="Keep the database the bench created.")
    args = parser.parse_args()
    url, cleanup = databases(args.pg_url, args.keep, "cm_clock")
    try:
        with tempfile.TemporaryDirectory(prefix="cm-clock-") as home:
            on_time = measure_reminders(args, url, home)
            quick = measure_failover(args, url, home) if args.failovers else True
    finally:
        cleanup()
    sys.exit(0 if on_time and quick else 1)


if __name__ == "__main__":
    main()
