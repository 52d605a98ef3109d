"""Benchmark: one GCR fanned out to every customer, published and delivered on PostgreSQL
to a loopback SendGrid, against the floor of rendering the same notices.

    .venv/bin/python bench/fanout.py --pg-url postgresql://postgres@127.0.0.1:5432/cm_fanout
        [--customers 20000 --services 100000 --contacts 40000] [--small 4] [--windows 1]
        [--batch 250 --concurrency N] [--transport sendgrid|keepalive] [--floor naive|worker]
        [--profile DIR]

With a database in the URL, everything in that database is dropped and rebuilt; with none
(`postgresql://postgres@127.0.0.1:5432/`), the bench creates `cm_fanout_<pid>` and drops it
at the end. Two sizes run in the same invocation, the full one and one `--small` times
smaller, each on a fresh schema: setup (inventory and a draft GCR over every service, then
ANALYZE as autovacuum would; not measured), then one process per phase, pinned to one
core, the loopback SendGrid in its own process pinned to the other:

- plan: publishing the GCR (change_status to confirmed), one transaction;
- floor: the same notices rendered with no database and no HTTP (Jinja2, icalendar,
  SendGrid JSON body), views composed before the clock starts; measured just before and
  again just after delivery, from the same views, as this shared machine's speed drifts;
- deliver: one Worker (real SendGridTransport) draining everything;
- remind: the tick 72 h before the window, planning every customer's reminder (memory).

Prints notices/s and messages/s (one message = one personalization, one email to one
contact) for planning + delivery and for delivery alone, each phase's peak RSS, the floor
rate (the mean of its two measurements; both are shown), and the ratio end to end /
floor, also against the faster of the two floors. Targets (issue 16): end to end >= 1.0
and delivery alone >= 1.2 of the floor, with one worker; peak RSS flat across sizes. The
floor is the naive render (`--floor naive`, the default): icalendar serialising each
customer's .ics and Jinja2's sandbox looking up each `a.b` as they come; `--floor worker`
measures it with the worker's own renderer instead (a floor that moves with it).
`--transport keepalive` swaps in a comparison HTTP client with persistent connections, to
show what SendGridTransport's HTTP stack costs. A performance change must not change
behaviour: bench/support/equivalence.py snapshots a scripted story before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support.servers import LoopbackSendGrid, databases  # noqa: E402
from bench.support.world import Size  # noqa: E402
from changemgmt.delivery.worker import BATCH_SIZE  # noqa: E402

WORKER_CPU, SERVER_CPU = 0, 1
END_TO_END_TARGET, DELIVERY_TARGET = 1.0, 1.2  # against the floor, with one worker
REGRESSION_FLOOR = 0.5  # end to end below this, the bench exits 1


def phase(name: str, cpu: int, **arguments) -> dict:
    """Runs one phase in a fresh process pinned to `cpu`; returns its JSON result."""
    code = (
        f"import json, os, sys; os.sched_setaffinity(0, {{{cpu}}}); sys.path.insert(0, {str(ROOT)!r}); "
        f"from bench.support.phases import run; run({name!r}, json.loads(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(arguments)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode:
        sys.exit(f"phase {name} failed:\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(url: str, size: Size, server: LoopbackSendGrid, args, home: str) -> dict:
    label = f"{size.customers}"
    profile = (lambda name: str(Path(args.profile) / f"{name}-{label}.prof")) if args.profile else (lambda _: None)
    setup = phase("setup", WORKER_CPU, url=url, home=home, size=size.__dict__, windows=args.windows)
    planned = phase("plan", WORKER_CPU, url=url, home=home, profile=profile("plan"))
    work_file = str(Path(home) / f"floor-{label}.pickle")
    naive = args.floor == "naive"
    floors = [
        phase("floor", WORKER_CPU, url=url, home=home, profile=profile("floor"), work_file=work_file, naive=naive)
    ]
    before = server.stats()
    delivered = phase(
        "deliver",
        WORKER_CPU,
        url=url,
        home=home,
        sendgrid_host=server.url,
        batch=args.batch,
        concurrency=args.concurrency,
        profile=profile("deliver"),
        transport=args.transport,
    )
    after = server.stats()
    floors.append(phase("floor", WORKER_CPU, url=url, home=home, work_file=work_file, naive=naive))
    reminded = phase("remind", WORKER_CPU, url=url, home=home, profile=profile("remind"))
    floor = {
        "seconds": sum(f["seconds"] for f in floors) / 2,
        "notices": floors[0]["notices"],
        "messages": floors[0]["messages"],
        "rates": [f["notices"] / f["seconds"] for f in floors],
    }
    sent = {key: after[key] - before[key] for key in ("requests", "personalizations", "bad", "cpu_seconds")}
    return {
        "size": size,
        "setup": setup,
        "plan": planned,
        "floor": floor,
        "deliver": delivered,
        "server": sent,
        "remind": reminded,
        "transport": args.transport,
    }


def report(result: dict) -> float:
    size, plan, floor, deliver, server = (result[k] for k in ("size", "plan", "floor", "deliver", "server"))
    notices, messages = deliver["notices_sent"], server["personalizations"]
    both = plan["seconds"] + deliver["seconds"]
    floor_rate = floor["notices"] / floor["seconds"]
    end_to_end, delivery = notices / both, notices / deliver["seconds"]
    print(f"\n== {size.label()} ==")
    print(
        f"setup (not measured): inventory {result['setup']['inventory_seconds']:.1f} s, "
        f"draft GCR {result['setup']['create_seconds']:.1f} s"
    )
    print(
        f"plan (publish):   {plan['seconds']:7.2f} s  {sum(plan['planned'].values()):,} notices, "
        f"{plan['no_recipient']:,} without recipient, {plan['deliveries']:,} deliveries, "
        f"{plan['recipients']:,} recipients; peak RSS {_mib(plan['peak_rss_kib'])} "
        f"(after imports {_mib(plan['start_rss_kib'])})"
    )
    print(
        f"deliver (worker, {result['transport']} transport): {deliver['seconds']:.2f} s  {notices:,} notices sent, "
        f"{server['requests']:,} requests, "
        f"{messages:,} messages; deliveries {deliver['deliveries']}; peak RSS {_mib(deliver['peak_rss_kib'])} "
        f"(after imports {_mib(deliver['start_rss_kib'])}); worker CPU "
        f"{deliver['cpu_seconds'] / deliver['seconds']:.0%}, SendGrid stand-in CPU "
        f"{server['cpu_seconds'] / deliver['seconds']:.0%} of a core"
    )
    remind = result["remind"]
    print(
        f"remind (tick 72 h before): {remind['seconds']:.2f} s  {sum(remind['planned'].values()):,} reminders "
        f"planned; peak RSS {_mib(remind['peak_rss_kib'])} (after imports {_mib(remind['start_rss_kib'])})"
    )
    print(f"planning + delivery: {end_to_end:8,.0f} notices/s  {messages / both:8,.0f} messages/s")
    print(f"delivery alone:      {delivery:8,.0f} notices/s  {messages / deliver['seconds']:8,.0f} messages/s")
    print(
        f"floor (render only, 1 core): {floor_rate:8,.0f} notices/s  "
        f"{floor['messages'] / floor['seconds']:8,.0f} messages/s  ({floor['notices']:,} notices; "
        f"before delivery {floor['rates'][0]:,.0f}/s, after {floor['rates'][1]:,.0f}/s)"
    )
    ratio = end_to_end / floor_rate
    print(
        f"ratio end to end / floor: {ratio:.2f} (against the faster floor: {end_to_end / max(floor['rates']):.2f}; "
        f"delivery alone / floor: {delivery / floor_rate:.2f})"
    )
    print(
        f"targets (issue 16): end to end >= {END_TO_END_TARGET}: {_met(ratio >= END_TO_END_TARGET)}; "
        f"delivery alone >= {DELIVERY_TARGET}: {_met(delivery / floor_rate >= DELIVERY_TARGET)}"
    )
    if server["bad"] or notices != plan["deliveries"]:
        print(
            f"WARNING: {server['bad']} bad requests; {plan['deliveries']:,} deliveries planned, "
            f"{notices:,} notices sent"
        )
    return ratio


def _met(met: bool) -> str:
    return "met" if met else "NOT met"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


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
    parser.add_argument("--small", type=int, default=4, help="The small run is this many times smaller (0: none).")
    parser.add_argument("--windows", type=int, default=1, help="Windows of the GCR.")
    parser.add_argument("--batch", type=int, default=BATCH_SIZE, help="Worker batch size.")
    parser.add_argument("--concurrency", type=int, help="Worker send threads (default: SEND_CONCURRENCY's).")
    parser.add_argument(
        "--transport",
        choices=("sendgrid", "keepalive"),
        default="sendgrid",
        help="keepalive: a comparison client with persistent connections (bench/support/keepalive.py).",
    )
    parser.add_argument(
        "--floor",
        choices=("naive", "worker"),
        default="naive",
        help="naive: the libraries' own serialisation and lookups (the issue's floor); "
        "worker: the worker's own renderer, minus the database and HTTP.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database the bench created.")
    parser.add_argument("--profile", help="Write cProfile stats of each phase here (slows the figures).")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        print("WARNING: fewer than two cores; the worker and the SendGrid stand-in share one")
    full = Size(args.customers, args.services, args.contacts)
    sizes = (
        [Size(*(n // args.small for n in (full.customers, full.services, full.contacts)))] if args.small else []
    ) + [full]
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    url, cleanup = databases(args.pg_url, args.keep, "cm_fanout")
    server = LoopbackSendGrid(SERVER_CPU if len(os.sched_getaffinity(0)) > 1 else WORKER_CPU)
    try:
        with tempfile.TemporaryDirectory(prefix="cm-fanout-") as home:
            results = [measure(url, size, server, args, home) for size in sizes]
    finally:
        server.stop()
        cleanup()
    ratios = [report(result) for result in results]
    if len(results) > 1:
        print("\n== memory as the GCR grows ==")
        for result in results:
            print(
                f"{result['size'].label():>50}: plan peak RSS {_mib(result['plan']['peak_rss_kib'])}, "
                f"worker peak RSS {_mib(result['deliver']['peak_rss_kib'])}, "
                f"reminder tick peak RSS {_mib(result['remind']['peak_rss_kib'])}"
            )
    sys.exit(0 if ratios[-1] >= REGRESSION_FLOOR else 1)


if __name__ == "__main__":
    main()
