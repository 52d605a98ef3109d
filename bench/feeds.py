"""Benchmark: calendar feeds on 20,000 customers and 2,000 GCRs.

    .venv/bin/python bench/feeds.py [--customers 20000 --gcrs 2000 --seconds 5]
        [--database-url postgresql://postgres@127.0.0.1:5432/cm_bench]   (its tables are dropped!)

Builds the inventory and GCRs with Core inserts (events with the digests sync_events
would give), plus one GCR on 10 customers through the real create/publish path, then:
1. full rebuild (`rebuild_all`): every feed created and written, then again unchanged;
2. one GCR change affecting 10 customers, through `update_gcr`, then `rebuild_dirty`:
   its time and the files written (must be 10 customer feeds; enterprise and internal
   feeds are counted apart);
3. full rebuild into the database store (FEED_STORE=database): every feed written to
   feed_documents;
4. requests/second of a 200 and a 304 from our feed route serving the file
   (FEED_STORE=files) and serving the database row (FEED_STORE=database), each one
   uvicorn process pinned to core 0, and from nginx serving the same file with
   deploy/nginx/calendars.conf (one worker, core 0), the load generator (wrk, else a
   small asyncio client) on core 1.
Targets: one-GCR rebuild < 0.5 s; the file route >= 12% of nginx and the database route
>= 50% of the file route, for 200 and for 304.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feeds_http import measure_serving  # noqa: E402
from sqlalchemy import MetaData, insert, select, text  # noqa: E402

from changemgmt.config import load_settings  # noqa: E402
from changemgmt.domain.digests import customer_digest, event_digest  # noqa: E402
from changemgmt.domain.gcr import GcrState, ServiceImpact  # noqa: E402
from changemgmt.domain.impact import Impact  # noqa: E402
from changemgmt.domain.status import Status  # noqa: E402
from changemgmt.domain.windows import Window  # noqa: E402
from changemgmt.feeds.publisher import rebuild_all, rebuild_dirty  # noqa: E402
from changemgmt.gcrs.input import parse_patch  # noqa: E402
from changemgmt.gcrs.service import Who, change_status, create_gcr, update_gcr  # noqa: E402
from changemgmt.store import models  # noqa: E402
from changemgmt.store.db import make_engine, session_factory, transaction  # noqa: E402
from changemgmt.store.migrate import upgrade  # noqa: E402
from changemgmt.store.revisions import revision_json  # noqa: E402

UTC = UTC
NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)
PRODUCTS = ("Ethernet 10G", "Dedicated Internet Access", "Wavelength 100G", "MPLS VPN")


def fresh_schema(engine) -> None:
    existing = MetaData()
    existing.reflect(engine)
    with engine.begin() as connection:
        for table in existing.tables:
            connection.execute(
                text(
                    f'DROP TABLE IF EXISTS "{table}" CASCADE'
                    if engine.dialect.name == "postgresql"
                    else f'DROP TABLE IF EXISTS "{table}"'
                )
            )
    upgrade(engine)


def insert_inventory(connection, customers: int, rng: random.Random) -> None:
    """Customers (a twentieth are enterprises, parents of a fifth of the rest), two
    services each, 100 locations."""
    enterprises = customers // 20
    connection.execute(
        insert(models.Location),
        [
            {"id": n + 1, "code": f"LOC{n:04d}", "name": f"Site {n}", "city": "Dallas", "region": "TX", "country": "US"}
            for n in range(100)
        ],
    )
    rows = []
    for n in range(1, customers + 1):
        parent = rng.randint(1, enterprises) if n > enterprises and rng.random() < 0.2 else None
        kind = "ENT" if n <= enterprises else "ACC"
        rows.append(
            {
                "id": n,
                "account": f"{kind}-{n:06d}",
                "name": f"Customer {n:06d}",
                "parent_id": parent,
                "time_zone": rng.choice(("UTC", "America/Chicago", "Europe/Berlin")),
                "active": True,
            }
        )
    connection.execute(insert(models.Customer), rows)
    connection.execute(
        insert(models.Service),
        [
            {
                "id": n,
                "service_id": f"SVC-{n:07d}",
                "customer_id": (n + 1) // 2,
                "product": rng.choice(PRODUCTS),
                "bandwidth": "10G",
                "a_end_id": rng.randint(1, 100),
                "z_end_id": None,
            }
            for n in range(1, 2 * customers + 1)
        ],
    )


def gcr_rows(number: int, customers: int, rng: random.Random) -> dict[str, list[dict]]:
    """One confirmed GCR on 10 random customers (one service each), 1-2 windows between
    45 days ago and 150 days ahead, with its revisions and the customers' events."""
    created = NOW - timedelta(days=60) + timedelta(minutes=number)
    start = NOW + timedelta(days=rng.uniform(-45, 150))
    windows = tuple(
        Window(n, start + timedelta(days=n - 1), start + timedelta(days=n - 1, hours=4))
        for n in range(1, rng.choice((1, 2, 2)) + 1)
    )
    services = {(2 * c - 1): f"SVC-{2 * c - 1:07d}" for c in rng.sample(range(1, customers + 1), 10)}
    impacts = tuple(ServiceImpact(s, rng.choice(list(Impact)), None) for s in sorted(services.values()))
    state = GcrState(
        number=f"GCR-{number:06d}",
        title=f"Maintenance {number}",
        description="Planned work.",
        status=Status.CONFIRMED,
        windows=windows,
        impacts=impacts,
    ).canonical()
    rows: dict[str, list[dict]] = {
        "gcr": [
            {
                "id": number,
                "number": state.number,
                "title": state.title,
                "description": state.description,
                "reason": "",
                "work_location": "",
                "emergency": False,
                "internal_notes": "",
                "status": "confirmed",
                "revision": 2,
                "created_at": created,
                "updated_at": created,
                "created_by": "bench",
            }
        ]
    }
    rows["window"] = [
        {"gcr_id": number, "number": w.number, "starts_at": w.start, "ends_at": w.end, "times_set_at": created}
        for w in windows
    ]
    rows["impact"] = [
        {"gcr_id": number, "service_pk": pk, "level": next(i.impact.value for i in impacts if i.service_id == sid)}
        for pk, sid in services.items()
    ]
    rows["revision_impact"] = [
        {**row, "max_outage_minutes": None, "from_revision": 1, "until_revision": None} for row in rows["impact"]
    ]
    draft = {**revision_json(state), "status": "draft"}
    rows["revision"] = [
        {"gcr_id": number, "number": n, "created_at": created, "actor": "bench", "changes": [], "state": data}
        for n, data in ((1, draft), (2, revision_json(state)))
    ]
    rows["event"] = [
        {
            "gcr_id": number,
            "customer_id": (pk + 1) // 2,
            "window_number": w.number,
            "sequence": 2,
            "digest": event_digest(customer_digest(state, {sid}).content, w, False, "CONFIRMED"),
            "modified_at": created,
            "cancelled": False,
        }
        for pk, sid in services.items()
        for w in windows
    ]
    return rows


def insert_gcrs(connection, gcrs: int, customers: int, rng: random.Random) -> None:
    tables = {
        "gcr": models.Gcr,
        "window": models.Window,
        "impact": models.Impact,
        "revision": models.Revision,
        "revision_impact": models.RevisionImpact,
        "event": models.Event,
    }
    for start in range(1, gcrs + 1, 500):
        batch: dict[str, list[dict]] = {name: [] for name in tables}
        for number in range(start, min(start + 500, gcrs + 1)):
            for name, rows in gcr_rows(number, customers, rng).items():
                batch[name] += rows
        for name, table in tables.items():
            connection.execute(insert(table), batch[name])
    if connection.dialect.name == "postgresql":
        for table in ("customers", "services", "locations", "gcrs"):
            connection.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )


def measured_gcr(db, settings, rng: random.Random, customers: int) -> list[str]:
    """Creates and publishes GCR-900001 on 10 customers through the real service."""
    picked = sorted(rng.sample(range(1, customers + 1), 10))
    document = {
        "number": "GCR-900001",
        "title": "Measured change",
        "description": "Benchmark.",
        "windows": [{"start": "2026-12-10T07:00Z", "end": "2026-12-10T11:00Z"}],
        "impacts": [{"service": f"SVC-{2 * c:07d}", "impact": "OUTAGE"} for c in picked],
    }
    who = Who("bench", NOW, settings)
    with transaction(db) as session:
        create_gcr(session, parse_patch(document), who)
        change_status(session, "GCR-900001", Status.CONFIRMED, who)
    return [f"SVC-{2 * c:07d}" for c in picked]


def timed(label: str, function, *args):
    start = time.perf_counter()
    result = function(*args)
    seconds = time.perf_counter() - start
    print(f"{label}: {seconds:.3f} s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--gcrs", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="Length of each load test.")
    parser.add_argument("--database-url", default="", help="Default: SQLite in a temporary folder.")
    options = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cm-feeds-bench-"))
    settings = load_settings(
        {
            "CHANGEMGMT_HOME": str(home),
            "DATABASE_URL": options.database_url or f"sqlite:///{home / 'bench.db'}",
            "BASE_URL": "https://maint.example.net",
        }
    )
    engine = make_engine(settings.database_url)
    fresh_schema(engine)
    db = session_factory(engine)
    rng = random.Random(7)
    print(f"database: {engine.dialect.name}; {options.customers} customers, {options.gcrs} GCRs; home {home}")
    with engine.begin() as connection:
        _, seconds = timed(
            "inventory and GCRs inserted",
            lambda: (
                insert_inventory(connection, options.customers, rng),
                insert_gcrs(connection, options.gcrs, options.customers, rng),
            ),
        )
    measured = measured_gcr(db, settings, rng, options.customers)
    with db() as session:
        events = session.scalar(select(text("count(*)")).select_from(models.Event))
    print(f"events: {events}")
    written, seconds = timed("full rebuild, first (feeds created and written)", rebuild_all, db, settings, NOW)
    print(
        f"  written {written.customer} customer, {written.enterprise} enterprise, {written.internal} internal: "
        f"{written.total / seconds:.0f} feeds/s"
    )
    written, seconds = timed("full rebuild, again (all rendered, none changed)", rebuild_all, db, settings, NOW)
    print(f"  rendered {written.unchanged} feeds: {written.unchanged / seconds:.0f} feeds/s, written {written.total}")
    one_gcr(db, settings, measured)
    in_database = dataclasses.replace(settings, feed_store="database")
    written, seconds = timed(
        "full rebuild into the database store (all written)", rebuild_all, db, in_database, NOW + timedelta(hours=1)
    )
    print(f"  written {written.total} feeds: {written.total / seconds:.0f} feeds/s")
    feed = max(
        (p for p in settings.calendars_dir.glob("*.ics")), key=lambda p: (p.stat().st_size < 8000, p.stat().st_size)
    )
    measure_serving(settings, feed, options.seconds, in_database)


def one_gcr(db, settings, services: list[str]) -> None:
    now = NOW + timedelta(hours=1)
    rebuild_dirty(db, settings, now)
    patch = parse_patch({"windows": [{"number": 1, "start": "2026-12-11T07:00Z", "end": "2026-12-11T11:00Z"}]})

    def change() -> None:
        with transaction(db) as session:
            update_gcr(session, "GCR-900001", patch, Who("bench", now, settings))

    timed("one GCR change on 10 customers (update_gcr, its whole transaction)", change)
    written, seconds = timed("  rebuild after it (rebuild_dirty)", rebuild_dirty, db, settings, now)
    print(
        f"  files written: {written.customer} customer feeds (must be 10), {written.enterprise} enterprise, "
        f"{written.internal} internal; unchanged {written.unchanged}"
    )
    print(
        f"  target < 0.5 s: {'met' if seconds < 0.5 else 'NOT met'}; 10 customer feeds: "
        f"{'yes' if written.customer == 10 else 'NO'}"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
