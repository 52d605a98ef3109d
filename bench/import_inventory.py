"""Benchmark: inventory import against a bare SQLAlchemy Core bulk insert of the same rows.

    .venv/bin/python bench/import_inventory.py [--services 100000 --customers 20000
        --contacts 40000] [--pg-url postgresql://postgres@127.0.0.1:5432/cm_bench]

Generates deterministic CSV files (full size and a quarter of it) in a temp dir, then on
SQLite (and PostgreSQL when --pg-url or a postgres DATABASE_URL is given) measures, each
in its own subprocess on a fresh schema so that time and memory figures are independent:
(a) the baseline: the files' rows, already turned into dicts with their ids, inserted with
`connection.execute(table.insert(), chunk)`; (b) `import_inventory` of the four files
(customers, locations, contacts, services); (c) the same import at a quarter of the size,
to show how peak memory grows with the file: only by the keys of the largest kind (each
key is kept once, to find keys repeated within a file), never by its rows; (d) with
--json, the import of the same rows as one JSON file. Target: import rate >= 1/3 baseline.

To compare two versions of the importer on the same machine state, run this script
with PYTHONPATH pointing at each checkout in turn: only `import_inventory` is measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("customers", "locations", "contacts", "services")
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London", "UTC")
PRODUCTS = ("Ethernet 10G", "Ethernet 1G", "Dedicated Internet Access", "Wavelength 100G", "MPLS VPN")
BASELINE_CHUNK = 5000


def generate(folder: Path, customers: int, contacts: int, services: int, locations: int, seed: int = 7) -> None:
    """Writes customers/locations/contacts/services CSV files; a twentieth of the
    customers are enterprises listed last, parents of a fifth of the others."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    enterprises = max(customers // 20, 1)
    accounts = [f"ACC-{n:07d}" for n in range(customers - enterprises)] + [f"ENT-{n:05d}" for n in range(enterprises)]
    codes = [f"LOC{n:05d}" for n in range(locations)]
    _write(
        folder / "customers.csv",
        ("account", "name", "parent_account", "time_zone", "active"),
        (
            (
                account,
                f"Customer {account}",
                rng.choice(accounts[-enterprises:]) if account.startswith("ACC") and rng.random() < 0.2 else "",
                rng.choice(ZONES),
                rng.choice(("true", "true", "false")),
            )
            for account in accounts
        ),
    )
    _write(
        folder / "locations.csv",
        ("code", "name", "address", "city", "region", "country", "time_zone"),
        (
            (code, f"Site {code}", f"{rng.randint(1, 999)} Main Street", "Dallas", "TX", "US", rng.choice(ZONES))
            for code in codes
        ),
    )
    _write(
        folder / "contacts.csv",
        ("account", "email", "name", "role", "notice_kinds", "min_impact", "reminders"),
        (
            (
                accounts[n % customers],
                f"noc{n // customers}@{accounts[n % customers].lower()}.example",
                f"NOC {n}",
                "NOC",
                rng.choice(("", "", "new;updated;cancelled")),
                rng.choice(("", "OUTAGE", "DEGRADED")),
                rng.choice(("", "no")),
            )
            for n in range(contacts)
        ),
    )
    _write(
        folder / "services.csv",
        ("service_id", "account", "product", "bandwidth", "a_end", "z_end"),
        (
            (
                f"SVC-{n:08d}",
                rng.choice(accounts),
                rng.choice(PRODUCTS),
                rng.choice(("1G", "10G", "100G")),
                rng.choice(codes),
                rng.choice(codes) if rng.random() < 0.5 else "",
            )
            for n in range(services)
        ),
    )


def _write(path: Path, header: tuple[str, ...], rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def fresh_schema(url: str):
    """An engine on an empty, migrated database: a new SQLite file, or a PostgreSQL
    database emptied of every table."""
    from sqlalchemy.engine import make_url

    from changemgmt.store.db import make_engine
    from changemgmt.store.migrate import recreate

    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(make_url(url).database + suffix).unlink(missing_ok=True)
    engine = make_engine(url)
    recreate(engine)
    return engine


def baseline_rows(folder: Path) -> dict[str, list[dict]]:
    """The files' rows as the tables want them, ids assigned up front (not timed)."""

    def read(kind):
        with (folder / f"{kind}.csv").open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))

    customers, locations = read("customers"), read("locations")
    customer_id = {row["account"]: n for n, row in enumerate(customers, start=1)}
    location_id = {row["code"]: n for n, row in enumerate(locations, start=1)}
    parents_first = sorted(customers, key=lambda row: bool(row["parent_account"]))
    return {
        "customers": [
            {
                "id": customer_id[r["account"]],
                "account": r["account"],
                "name": r["name"],
                "parent_id": customer_id.get(r["parent_account"]),
                "time_zone": r["time_zone"],
                "active": r["active"] == "true",
            }
            for r in parents_first
        ],
        "locations": [{"id": location_id[r["code"]], **r} for r in locations],
        "contacts": [
            {
                "customer_id": customer_id[r["account"]],
                "email": r["email"],
                "name": r["name"],
                "role": r["role"],
                "notice_kinds": r["notice_kinds"].split(";") if r["notice_kinds"] else None,
                "min_impact": r["min_impact"] or "NO-IMPACT",
                "reminders": r["reminders"] != "no",
            }
            for r in read("contacts")
        ],
        "services": [
            {
                "service_id": r["service_id"],
                "customer_id": customer_id[r["account"]],
                "product": r["product"],
                "bandwidth": r["bandwidth"],
                "a_end_id": location_id[r["a_end"]],
                "z_end_id": location_id.get(r["z_end"]),
            }
            for r in read("services")
        ],
    }


def run_baseline(engine, folder: Path) -> tuple[float, int]:
    from changemgmt.inventory.sql import TABLES

    rows = baseline_rows(folder)
    started = time.perf_counter()
    with engine.begin() as connection:
        for kind in KINDS:
            for start in range(0, len(rows[kind]), BASELINE_CHUNK):
                connection.execute(TABLES[kind].insert(), rows[kind][start : start + BASELINE_CHUNK])
    return time.perf_counter() - started, sum(len(r) for r in rows.values())


def write_json(folder: Path) -> Path:
    """The four CSV files of `folder` as one JSON document, in the importer's order."""
    document = {}
    for kind in ("locations", "customers", "contacts", "services"):
        with (folder / f"{kind}.csv").open(encoding="utf-8", newline="") as f:
            document[kind] = [{name: value for name, value in row.items() if value} for row in csv.DictReader(f)]
    path = folder / "inventory.json"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def run_import(engine, folder: Path, files: list[str] | None = None) -> tuple[float, int]:
    from changemgmt.config import load_settings
    from changemgmt.inventory import import_inventory
    from changemgmt.store.db import session_factory

    factory, settings = session_factory(engine), load_settings({})
    started, rows = time.perf_counter(), 0
    for name in files or [f"{kind}.csv" for kind in KINDS]:
        result = import_inventory(factory, folder / name, settings=settings, actor="bench")
        rows += sum(result.rows.values())
    return time.perf_counter() - started, rows


def run_json_import(engine, folder: Path) -> tuple[float, int]:
    return run_import(engine, folder, ["inventory.json"])


def worker(mode: str, url: str, folder: Path) -> None:
    """Runs one measurement and prints it as JSON: seconds, rows, and how far the peak
    RSS rose above the process's size once the schema was ready."""
    import changemgmt.inventory  # noqa: F401  (imports are not what we measure)

    engine = fresh_schema(url)
    start_rss = _status_kib("VmRSS")
    _reset_peak_rss()
    run = {"baseline": run_baseline, "import": run_import, "json": run_json_import}[mode]
    seconds, rows = run(engine, folder)
    peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_growth_mib": (peak - start_rss) / 1024}))


def _reset_peak_rss() -> None:
    """Makes VmHWM start again from the current RSS (Linux), so that the peak measured
    is the run's, not the migrations' before it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def _status_kib(field: str) -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(mode: str, url: str, folder: Path) -> dict:
    if url.startswith("sqlite:///"):
        url = f"{url.removesuffix('.db')}-{mode}-{folder.name}.db"
    command = [sys.executable, __file__, "--worker", mode, "--database-url", url, "--files", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{mode} on {url} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(mode: str, url: str, folder: Path, repeat: int) -> dict:
    """The fastest of `repeat` runs, with the largest peak memory seen."""
    runs = [measure(mode, url, folder) for _ in range(repeat)]
    fastest = min(runs, key=lambda run: run["seconds"])
    return {**fastest, "peak_growth_mib": max(run["peak_growth_mib"] for run in runs)}


def bench(url: str, full: Path, quarter: Path, repeat: int, with_json: bool) -> float:
    base, imported = best("baseline", url, full, repeat), best("import", url, full, repeat)
    small = best("import", url, quarter, repeat)
    ratio = rate(imported) / rate(base)
    print(f"\n== {url.split('://')[0].split('+')[0]} (best of {repeat}) ==")
    print(line("baseline Core insert", base) + "  [rows held in memory]")
    print(line("import, full size", imported))
    print(line("import, 1/4 size", small))
    if with_json:
        print(line("import, JSON", best("json", url, full, repeat)))
    print(f"ratio import/baseline: {ratio:.2f} (target >= 0.33: {'met' if ratio >= 1 / 3 else 'NOT met'})")
    return ratio


def rate(run: dict) -> float:
    return run["rows"] / run["seconds"]


def line(label: str, run: dict) -> str:
    return (
        f"{label:<21} {run['rows']:>8} rows in {run['seconds']:6.2f} s = {rate(run):>9,.0f} rows/s"
        f"  peak RSS +{run['peak_growth_mib']:.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="Default: a SQLite file in a temp dir.")
    parser.add_argument(
        "--pg-url",
        default=_postgres_from_env(),
        help="Also run on this PostgreSQL database "
        "(everything in it is dropped). Default: DATABASE_URL when it names PostgreSQL.",
    )
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--contacts", type=int, default=40000)
    parser.add_argument("--services", type=int, default=100000)
    parser.add_argument("--locations", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per measurement; the fastest counts.")
    parser.add_argument("--json", action="store_true", help="Also import the full size as one JSON file.")
    parser.add_argument("--worker", choices=("baseline", "import", "json"), help=argparse.SUPPRESS)
    parser.add_argument("--files", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.database_url, args.files)
    with tempfile.TemporaryDirectory(prefix="cm-bench-") as tmp:
        folder = Path(tmp)
        sizes = (args.customers, args.contacts, args.services)
        generate(folder / "full", *sizes, args.locations)
        generate(folder / "quarter", *(n // 4 for n in sizes), args.locations)
        if args.json:
            write_json(folder / "full")
        print(
            f"rows: {args.customers} customers, {args.locations} locations, {args.contacts} contacts, "
            f"{args.services} services ({_size(folder / 'full')} of CSV)"
        )
        urls = [args.database_url or f"sqlite:///{folder / 'bench.db'}"]
        if args.pg_url and args.pg_url not in urls:
            urls.append(args.pg_url)
        ratios = [bench(url, folder / "full", folder / "quarter", args.repeat, args.json) for url in urls]
    sys.exit(0 if min(ratios) >= 1 / 3 else 1)


def _postgres_from_env() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql")) else None


def _size(folder: Path) -> str:
    return f"{sum(p.stat().st_size for p in folder.glob('*.csv')) / 2**20:.1f} MiB"


if __name__ == "__main__":
    main()
