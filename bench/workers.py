"""Benchmark: worker processes side by side on PostgreSQL. Does the CPU spent per notice
stay flat as workers are added, and does throughput rise until the cores are busy? And
how many notices does a kill -9 of a worker send twice?

    .venv/bin/python bench/workers.py --pg-url postgresql://postgres@127.0.0.1:5432/
        [--customers 20000 --services 20000 --contacts 30000] [--workers 1,2,4]
        [--kills 3 --kill-workers 2 --settle-timeout 600]

With a database in the URL, everything in it is dropped and rebuilt; with none, the bench
creates `cm_workers_<pid>` and drops it at the end. Setup (not measured): the inventory,
one draft GCR over every service per run, the loopback SendGrid (recording every
personalization it accepts) as a process of its own. Nothing is pinned to a core.

For each worker count, on the same tables (the previous run's outbox deleted, then
VACUUM ANALYZE): start that many `python -m changemgmt worker` processes and wait for
their heartbeats; publish one GCR (one notice per customer; the publishing backend is
not counted); wait until every delivery is settled. Measured from just before the
publication to the end:
- notices/s: deliveries sent over the time from the publication's commit to the last send;
- CPU seconds per notice: the workers' (from /proc/<pid>/stat), the PostgreSQL backends
  serving the workers (from /proc of those postgres processes, sampled while they live),
  the SendGrid stand-in's (its own os.times()), and their sum;
- machine CPU use over the sending (/proc/stat: every process on the machine, so other
  load on a shared machine shows here), and our processes' share of it.
Figures are also printed as ratios against the 1-worker run of the same invocation.
Targets: CPU per notice within 10% from 1 to 4 workers; throughput rising until the cores
are busy and holding after.

Then, with `--kill-workers` workers and a clock (whose lease job gives back a dead
worker's rows), one more GCR: `--kills` times, a worker is killed with SIGKILL mid fan-out
and a new one started. Reported: personalizations accepted twice per kill, against the
worker's send concurrency (the sends in flight); lost notices (0 expected); for each
kill, the seconds until the killed worker's claimed rows were back.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.support.cpu import BackendSampler, MachineCpu, process_cpu, wait_for  # noqa: E402
from bench.support.phases import bench_settings, setup  # noqa: E402
from bench.support.servers import LoopbackSendGrid, Processes, databases  # noqa: E402
from bench.support.world import GCR_NUMBER, Size, gcr_document  # noqa: E402
from changemgmt.config import Settings  # noqa: E402
from changemgmt.domain.states import DeliveryState  # noqa: E402
from changemgmt.domain.status import Status  # noqa: E402
from changemgmt.gcrs.input import parse_patch  # noqa: E402
from changemgmt.gcrs.service import Who, change_status, create_gcr  # noqa: E402
from changemgmt.store.db import make_engine, session_factory, transaction  # noqa: E402
from changemgmt.store.models import Delivery, Gcr, Notice, Process, Recipient  # noqa: E402

UNSETTLED = (DeliveryState.PENDING.value, DeliveryState.SENDING.value)
OUTBOX = ("delivery_attempts", "delivery_events", "recipients", "deliveries", "notices")
SEND_CONCURRENCY = Settings.__dataclass_fields__["send_concurrency"].default  # the processes run with the default


class Bench:
    def __init__(self, args, url: str, home: str) -> None:
        self.args, self.url, self.home = args, url, home
        self.engine = make_engine(url)
        self.sessions = session_factory(self.engine)
        self.server = LoopbackSendGrid(None, record=True)
        self.processes = Processes(url, home, self.server.url)
        self.settings = bench_settings(url, home, self.server.url)
        self.sampler = BackendSampler(self.engine, make_url(url).database)

    def prepare(self, runs: int) -> list[str]:
        """The inventory and one draft GCR per run; returns their numbers."""
        built = setup(self.url, self.home, Size(self.args.customers, self.args.services, self.args.contacts), 1)
        print(f"setup: inventory {built['inventory_seconds']:.1f} s, draft GCR {built['create_seconds']:.1f} s")
        numbers = [GCR_NUMBER] + [f"GCR-9{n:05d}" for n in range(2, runs + 1)]
        now = datetime.now(UTC)
        for number in numbers[1:]:
            with transaction(self.sessions) as session:
                document = {**gcr_document(now, self.args.services), "number": number}
                create_gcr(session, parse_patch(document), Who("bench", now, self.settings))
        return numbers

    def clean(self) -> None:
        """Every run starts on the same tables: the outbox empty, statistics fresh."""
        with self.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(OUTBOX)} CASCADE"))  # ids go on: the stand-in keeps them
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")

    def workers(self, count: int) -> list[subprocess.Popen]:
        started = [self.processes.start("worker") for _ in range(count)]
        wait_for(
            "the workers' heartbeats", 120, lambda: self._alive(started) and all(self.heartbeat(p) for p in started)
        )
        return started

    def heartbeat(self, process: subprocess.Popen) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(Process.id).where(Process.pid == process.pid, Process.stopped_at.is_(None)))

    @staticmethod
    def _alive(processes: list[subprocess.Popen]) -> bool:
        for process in processes:
            if process.poll() is not None:
                sys.exit(f"a process exited (code {process.returncode}); see its log in the bench's home")
        return True

    def publish(self, number: str) -> float:
        """Publishes the GCR (the bench's backends are not counted); returns the wall time of its commit."""
        with transaction(self.sessions) as session:
            change_status(session, number, Status.CONFIRMED, Who("bench", datetime.now(UTC), self.settings))
        return time.time()

    def counts(self, number: str) -> dict[str, int]:
        with self.sessions() as session:
            rows = session.execute(
                select(Delivery.state, func.count())
                .join(Notice, Notice.id == Delivery.notice_id)
                .join(Gcr, Gcr.id == Notice.gcr_id)
                .where(Gcr.number == number)
                .group_by(Delivery.state)
            )
            return dict(rows.all())

    def settled(self, number: str) -> bool:
        counts = self.counts(number)
        return bool(counts) and not any(counts.get(state) for state in UNSETTLED)

    def last_send(self, number: str) -> float:
        with self.sessions() as session:
            last = session.scalar(
                select(func.max(Delivery.sent_at))
                .join(Notice, Notice.id == Delivery.notice_id)
                .join(Gcr, Gcr.id == Notice.gcr_id)
                .where(Gcr.number == number)
            )
        return last.timestamp()

    def expected(self, number: str) -> set[tuple[int, int]]:
        """(notice id, contact id) of every recipient the GCR's notices have."""
        with self.sessions() as session:
            rows = session.execute(
                select(Recipient.notice_id, Recipient.contact_id)
                .join(Notice, Notice.id == Recipient.notice_id)
                .join(Gcr, Gcr.id == Notice.gcr_id)
                .where(Gcr.number == number)
            )
            return set(rows.all())

    def accepted(self, expected: set[tuple[int, int]]) -> tuple[int, int]:
        """(personalizations accepted more than once, recipients never accepted) of these."""
        notices = {notice for notice, _ in expected}
        taken = [(notice, contact) for notice, contact, _ in self.server.accepted() if notice in notices]
        return len(taken) - len(set(taken)), len(expected - set(taken))

    def measure(self, count: int, number: str) -> dict:
        self.clean()
        workers = self.workers(count)
        try:
            time.sleep(self.args.settle)  # the workers idle, as they would before a publication
            self.sampler.mark()
            cpu = {p.pid: process_cpu(p.pid) for p in workers}
            server, started = self.server.stats(), time.time()
            committed = self.publish(number)
            machine = MachineCpu.read()
            wait_for(
                "the fan-out", self.args.settle_timeout, lambda: self._alive(workers) and self.settled(number), 0.2
            )
            machine = MachineCpu.busy_share(machine, MachineCpu.read())
            used_workers = sum(process_cpu(p.pid) - cpu[p.pid] for p in workers)
            used_backends, used_server = self.sampler.used(), self.server.stats()["cpu_seconds"] - server["cpu_seconds"]
            ended = time.time()
        finally:
            self.processes.stop(workers)
        sent = self.counts(number).get(DeliveryState.SENT.value, 0)
        duplicates, lost = self.accepted(self.expected(number))
        seconds = self.last_send(number) - committed
        ours = (used_workers + used_backends + used_server) / ((ended - started) * os.cpu_count())
        return {
            "workers": count,
            "notices": sent,
            "seconds": seconds,
            "rate": sent / seconds,
            "cpu": {"workers": used_workers, "postgres": used_backends, "server": used_server},
            "machine": machine,
            "ours": ours,
            "duplicates": duplicates,
            "lost": lost,
        }

    def kill_run(self, number: str) -> dict:
        self.clean()
        clock = self.processes.start("clock")
        workers = self.workers(self.args.kill_workers)
        killed: list[dict] = []
        try:
            self.publish(number)
            total = sum(self.counts(number).values())
            for n in range(self.args.kills):
                share = (n + 1) / (self.args.kills + 2)
                wait_for("progress", 600, lambda share=share: self.counts(number).get("sent", 0) >= share * total, 0.05)
                victim = workers.pop(0)
                worker_id = self.heartbeat(victim)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed.append({"id": worker_id, "at": time.monotonic(), "back": None, "held": self.held(worker_id)})
                workers.append(self.processes.start("worker"))
            deadline = time.monotonic() + self.args.settle_timeout
            while time.monotonic() < deadline and not (self.settled(number) and all(k["back"] for k in killed)):
                for kill in killed:
                    if kill["back"] is None and not self.held(kill["id"]):
                        kill["back"] = time.monotonic() - kill["at"]
                self._alive(workers + [clock])
                time.sleep(0.2)
        finally:
            self.processes.stop(workers + [clock])
        duplicates, lost = self.accepted(self.expected(number))
        return {"killed": killed, "duplicates": duplicates, "lost": lost, "counts": self.counts(number)}

    def held(self, worker_id: str) -> int:
        with self.sessions() as session:
            return session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.claimed_by == worker_id, Delivery.state == DeliveryState.SENDING.value)
            )


def report(runs: list[dict]) -> bool:
    print(f"\n== worker processes on PostgreSQL, {runs[0]['notices']:,} notices a run, {os.cpu_count()} cores ==")
    print("workers  notices/s  CPU ms/notice: workers  postgres  server  total   machine busy  ours  duplicates  lost")
    for run in runs:
        cpu, n = run["cpu"], run["notices"]
        total = sum(cpu.values())
        print(
            f"{run['workers']:7}  {run['rate']:9.0f}  {1000 * cpu['workers'] / n:21.2f}  "
            f"{1000 * cpu['postgres'] / n:8.2f}  {1000 * cpu['server'] / n:6.2f}  {1000 * total / n:5.2f}   "
            f"{run['machine']:11.0%}  {run['ours']:4.0%}  {run['duplicates']:10}  {run['lost']:4}"
        )
    base = runs[0]
    print(f"\nratios against {base['workers']} worker(s), same run:")
    print("workers  notices/s  CPU/notice: workers  postgres  server  total")
    flat = True
    for run in runs:
        ratio = {k: (run["cpu"][k] / run["notices"]) / (base["cpu"][k] / base["notices"]) for k in run["cpu"]}
        total = (sum(run["cpu"].values()) / run["notices"]) / (sum(base["cpu"].values()) / base["notices"])
        flat = flat and total <= 1.10
        print(
            f"{run['workers']:7}  {run['rate'] / base['rate']:8.2f}x  {ratio['workers']:17.2f}x  "
            f"{ratio['postgres']:7.2f}x  {ratio['server']:5.2f}x  {total:4.2f}x"
        )
    print(f"target: total CPU per notice within 10% of the 1-worker run: {'met' if flat else 'NOT met'}")
    return flat and not any(run["lost"] or run["duplicates"] for run in runs)


def report_kills(result: dict, workers: int) -> bool:
    kills = len(result["killed"])
    print(f"\n== kill -9 of a worker mid fan-out, {kills} times ({workers} workers and a clock) ==")
    for n, kill in enumerate(result["killed"], 1):
        back = f"{kill['back']:.1f} s" if kill["back"] is not None else "NOT back by the end"
        print(f"kill {n}: {kill['held']} deliveries claimed by the killed worker; back in the queue after {back}")
    per_kill = result["duplicates"] / kills if kills else 0
    print(
        f"personalizations accepted twice: {result['duplicates']} ({per_kill:.1f} per kill; send concurrency "
        f"{SEND_CONCURRENCY} requests in flight per worker); recipients never accepted: {result['lost']}; "
        f"deliveries by state at the end: {result['counts']}"
    )
    return not result["lost"] and all(k["back"] is not None for k in result["killed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("DATABASE_URL"),
        required="DATABASE_URL" not in os.environ,
        help="PostgreSQL server (a database is created) or database (emptied!).",
    )
    parser.add_argument("--customers", type=int, default=20000, help="One notice each.")
    parser.add_argument("--services", type=int, default=20000)
    parser.add_argument("--contacts", type=int, default=30000)
    parser.add_argument("--workers", default="1,2,4", help="Worker counts to measure, the baseline first.")
    parser.add_argument("--kills", type=int, default=3, help="Times to kill -9 a worker mid fan-out (0: none).")
    parser.add_argument("--kill-workers", type=int, default=2, help="Workers running during the kills.")
    parser.add_argument("--settle", type=float, default=3, help="Seconds the workers idle before a publication.")
    parser.add_argument("--settle-timeout", type=float, default=900, help="Seconds to wait for a fan-out.")
    parser.add_argument("--keep", action="store_true", help="Keep the database the bench created.")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    url, cleanup = databases(args.pg_url, args.keep, "cm_workers")
    bench = None
    try:
        with tempfile.TemporaryDirectory(prefix="cm-workers-") as home:
            bench = Bench(args, url, home)
            numbers = bench.prepare(len(counts) + (1 if args.kills else 0))
            bench.sampler.start()
            runs = []
            for count, number in zip(counts, numbers):
                runs.append(bench.measure(count, number))
                print(f"{count} worker(s): {runs[-1]['rate']:.0f} notices/s", flush=True)
            ok = report(runs)
            if args.kills:
                ok = report_kills(bench.kill_run(numbers[-1]), args.kill_workers) and ok
    finally:
        if bench is not None:
            bench.sampler.stop() if bench.sampler.thread.is_alive() else None
            bench.server.stop()
            bench.engine.dispose()
        cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
