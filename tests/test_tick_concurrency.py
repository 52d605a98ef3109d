"""Two ticks at once (two clocks during a takeover, a `plan --at` beside the clock): each
GCR is handled under its lock and judged as it stands then, so nothing crashes (no
TransitionError, no UniqueViolation on a revision number) and nothing is planned twice,
not even a late `new` whose key holds its tick's time."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from changemgmt.domain.status import Status
from changemgmt.jobs.tick import tick, tick_gcr
from changemgmt.store import models
from changemgmt.store.db import transaction
from changemgmt.store.queries import lock_gcr
from support.processes import process_env

# Waits until the moment given, then runs `changemgmt plan --at TIME`: the imports done
# beforehand, two of these start ticking within a millisecond or two of each other.
AT_ONCE = """
import sys, time
from changemgmt.cli.main import cli
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
cli(["plan", "--at", sys.argv[2]], prog_name="changemgmt")
"""


def gcr(number: str, start, services=("ACME-ETH-1", "GLBX-WAVE-1")) -> dict:
    return {
        "number": number,
        "title": f"Work {number}",
        "description": "Planned work.",
        "windows": [{"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}],
        "impacts": [{"service": s} for s in services],
    }


def counts(db, *columns) -> dict[tuple, int]:
    with db() as session:
        rows = session.execute(
            select(*columns, func.count())
            .select_from(models.Notice)
            .join(models.Gcr, models.Gcr.id == models.Notice.gcr_id)
            .join(models.Customer, models.Customer.id == models.Notice.customer_id)
            .group_by(*columns)
        )
        return {tuple(row[:-1]): row[-1] for row in rows}


def test_two_ticks_in_separate_processes_at_the_same_instant_crash_nothing_and_plan_nothing_twice(desk, db, env, clock):
    moment = clock() + timedelta(days=8)
    starting = [f"GCR-96{n:02d}" for n in range(20)]  # each starts at `moment`: both ticks would start it
    for number in starting:
        desk.publish(gcr(number, moment))
    desk.publish(gcr("GCR-9701", moment + timedelta(hours=10)))  # both reminders due at `moment`
    with transaction(db) as session:  # Globex has nobody to tell yet...
        session.execute(
            models.Contact.__table__.update()
            .where(models.Contact.email == "ops@globex.example")
            .values(unsubscribed_at=clock())
        )
    desk.publish(gcr("GCR-9702", moment + timedelta(days=3)))
    with transaction(db) as session:  # ...until a contact appears: the tick owes it a late `new`
        globex = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-2002"))
        session.add(models.Contact(customer=globex, email="noc@globex.example", name="Globex NOC"))

    go = time.time() + 4
    ticks = [
        subprocess.Popen(
            [sys.executable, "-c", AT_ONCE, str(go), (moment + timedelta(seconds=second)).isoformat()],
            env=process_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for second in (0, 1)  # one second apart: a late `new` planned by each would have two keys
    ]
    outputs = [t.communicate(timeout=120) for t in ticks]
    for t, (out, err) in zip(ticks, outputs):
        assert t.returncode == 0 and "Traceback" not in err, out + err

    kinds = counts(db, models.Gcr.number, models.Customer.account, models.Notice.kind)
    for number in starting:
        assert kinds[(number, "ACC-1001", "started")] == kinds[(number, "ACC-2002", "started")] == 1
    assert kinds[("GCR-9701", "ACC-1001", "reminder")] == kinds[("GCR-9701", "ACC-2002", "reminder")] == 2
    late = counts(db, models.Gcr.number, models.Customer.account, models.Notice.kind, models.Notice.state)
    assert late[("GCR-9702", "ACC-2002", "new", "no_recipient")] == 1  # at publishing, to nobody
    assert late[("GCR-9702", "ACC-2002", "new", "pending")] == 1  # the late one, once
    with db() as session:
        starts = session.scalar(
            select(func.count()).select_from(models.AuditEntry).where(models.AuditEntry.action == "start")
        )
    assert starts == len(starting)


def on_postgres(engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: row locks (SQLite has one writer at a time)")


def test_a_tick_leaves_a_gcr_another_transaction_is_changing_to_its_next_round(desk, db, engine, settings, clock):
    on_postgres(engine)
    moment = clock() + timedelta(days=8)
    desk.publish(gcr("GCR-9601", moment))
    with db() as holder, holder.begin():
        lock_gcr(holder, "GCR-9601")  # a change manager's change, still open
        result = tick(db, settings, moment)
        assert (result.advanced, result.busy) == ([], ["GCR-9601"])
    assert tick(db, settings, moment).advanced == ["GCR-9601: started"]
    assert tick(db, settings, moment).advanced == []


def test_a_gcr_read_before_another_tick_started_it_is_judged_as_it_stands_under_the_lock(
    desk, db, engine, settings, clock
):
    on_postgres(engine)
    moment = clock() + timedelta(days=8)
    desk.publish(gcr("GCR-9602", moment))
    with db() as late, late.begin():
        seen = late.scalar(select(models.Gcr).where(models.Gcr.number == "GCR-9602"))
        assert seen.status == Status.CONFIRMED.value  # what this tick read first
        assert tick(db, settings, moment).advanced == ["GCR-9602: started"]  # another tick, meanwhile
        result = tick_gcr(late, settings, seen.id, seen.number, moment)
        assert result.advanced == [] and seen.status == Status.IN_PROGRESS.value
    with db() as session:
        assert session.scalar(select(models.Gcr.revision).where(models.Gcr.number == "GCR-9602")) == 3


def test_on_sqlite_a_gcr_change_waits_its_turn_behind_a_writer_rather_than_failing(run, desk, engine, clock):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: one writer at a time")
    desk.publish(gcr("GCR-9603", clock() + timedelta(days=8)))
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:  # the clock's tick, say: it holds the write lock a moment
        with engine.execution_options(sqlite_begin="BEGIN IMMEDIATE").begin() as connection:
            connection.execute(text("UPDATE customers SET name = name"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    holding.wait(10)
    threading.Timer(0.5, release.set).start()  # it commits while the change is under way
    out = run("gcr", "update", "GCR-9603", "--description", "Planned work, in two steps.")
    thread.join()
    assert "GCR-9603: confirmed, revision 3" in out
