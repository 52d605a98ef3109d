"""The measured phases of the fan-out bench. Each runs in a process of its own (pinned to
one core), so its time and peak memory are its own, and prints one JSON line.

- setup: schema, inventory and the draft GCR (not measured);
- plan: publishing the GCR, one transaction that plans every customer's notice;
- floor: the same notices rendered (Jinja2, icalendar, SendGrid JSON body) with no
  database and no HTTP: the views are composed before the clock starts;
- deliver: one Worker draining the outbox through the real SendGridTransport;
- remind: the tick 72 h before the window, which plans every customer's reminder.
"""

from __future__ import annotations

import cProfile
import json
import os
import pickle
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import func, select

from bench.support.keepalive import KeepAliveSendGrid
from bench.support.world import GCR_NUMBER, Size, build_inventory, gcr_document
from changemgmt.config import Settings, load_settings
from changemgmt.content.ical import EventFacts, build_calendar, calendar_bytes, notice_events
from changemgmt.delivery import message as message_module
from changemgmt.delivery import render as render_module
from changemgmt.delivery.compose import NoticeFacts, RevisionCache, compose_views, recipients_of
from changemgmt.delivery.message import build_email, change_management, sendgrid_body
from changemgmt.delivery.render import Renderer
from changemgmt.delivery.transports.sendgrid import SendGridTransport
from changemgmt.delivery.worker import Worker, favour_waiting_threads
from changemgmt.domain.states import DeliveryState, NoticeState
from changemgmt.domain.status import Status
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who, change_status, create_gcr
from changemgmt.jobs.tick import tick
from changemgmt.store.db import make_engine, session_factory, transaction
from changemgmt.store.migrate import recreate
from changemgmt.store.models import Delivery, Notice, Recipient, Window

UTC = UTC
COMPOSE_BATCH = 500


def memory_kib(field: str = "VmHWM") -> int:
    """VmHWM: this process's peak resident set (reset at exec, unlike ru_maxrss)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def bench_settings(url: str, home: str, sendgrid_host: str = "http://127.0.0.1:9") -> Settings:
    return load_settings(
        {
            "DATABASE_URL": url,
            "CHANGEMGMT_HOME": home,
            "EMAIL_BACKEND": "sendgrid",
            "SECRET_KEY": "bench-secret-key-of-at-least-32-bytes",
            "SENDGRID_API_KEY": "SG.bench",
            "SENDGRID_API_HOST": sendgrid_host,
        }
    )


@contextmanager
def profiled(path: str | None):
    """cProfile the block into `path` when given (profiling slows the run: not for figures)."""
    if not path:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(path)


def setup(url: str, home: str, size: Size, windows: int) -> dict:
    engine = make_engine(url)
    recreate(engine)
    started = time.perf_counter()
    build_inventory(engine, size)
    built = time.perf_counter()
    settings = bench_settings(url, home)
    now = datetime.now(UTC)
    with transaction(session_factory(engine)) as session:
        create_gcr(session, parse_patch(gcr_document(now, size.services, windows)), Who("bench", now, settings))
    created = time.perf_counter()
    # Statistics for the inventory and the draft, as autovacuum would have gathered long
    # before anyone publishes (this machine's PostgreSQL runs with autovacuum off).
    # Nothing is analyzed between publishing and delivering: the worker copes with tables
    # fresh from planning.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    return {"inventory_seconds": built - started, "create_seconds": created - built}


def plan(url: str, home: str, profile: str | None = None) -> dict:
    engine = make_engine(url)
    settings = bench_settings(url, home)
    sessions = session_factory(engine)
    started_rss = memory_kib("VmRSS")
    started = time.perf_counter()
    with profiled(profile), transaction(sessions) as session:
        change = change_status(session, GCR_NUMBER, Status.CONFIRMED, Who("bench", datetime.now(UTC), settings))
    seconds = time.perf_counter() - started
    with sessions() as session:
        deliveries = session.scalar(select(func.count()).select_from(Delivery))
        recipients = session.scalar(select(func.count()).select_from(Recipient))
    return {
        "seconds": seconds,
        "planned": change.plan.planned,
        "no_recipient": change.plan.no_recipient,
        "deliveries": deliveries,
        "recipients": recipients,
        "start_rss_kib": started_rss,
        "peak_rss_kib": memory_kib(),
    }


def floor(url: str, home: str, profile: str | None = None, work_file: str | None = None, naive: bool = True) -> dict:
    """Renders every pending delivery's notice as the worker would, minus the database
    and HTTP: Jinja2 + icalendar + sendgrid_body + json.dumps, in this one process.
    `naive`: with the libraries' own slow paths the worker avoids (icalendar serialising
    each customer's .ics, naive_ics; Jinja2's sandbox looking up each `a.b`); without it,
    with the worker's renderer (a floor that moves with it).
    With `work_file`: the composed views are saved there the first time and read back
    the next (after delivery nothing is pending), so both renderings have the same input."""
    settings = bench_settings(url, home)
    if work_file and Path(work_file).exists():
        work = pickle.loads(Path(work_file).read_bytes())
    else:
        work = _compose_everything(session_factory(make_engine(url)), settings)
        if work_file:
            Path(work_file).write_bytes(pickle.dumps(work))
    if naive:
        # The floor stays the naive render the worker is measured against: the .ics built
        # and serialised by icalendar customer by customer, and the templates' lookups
        # made by Jinja2's sandbox as it comes (issue 16).
        message_module.build_ics = naive_ics
        render_module._Sandbox.getattr = ImmutableSandboxedEnvironment.getattr
    renderer = Renderer.from_settings(settings)
    size = 0
    started = time.perf_counter()
    with profiled(profile):
        for view, recipients in work:
            message = build_email(view, recipients, settings, renderer)
            size += len(json.dumps(sendgrid_body(message)).encode("utf-8"))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "notices": len(work), "messages": sum(len(r) for _, r in work), "bytes": size}


def naive_ics(view, settings: Settings) -> bytes:
    """The attachment as icalendar builds and serialises it (what build_ics returns, the
    slow way)."""
    facts = EventFacts.from_view(view, fallback_organizer=change_management(settings))
    events = notice_events(facts, view.windows, provider_domain=settings.provider_domain, stamp=view.issued_at)
    uid = f"{view.gcr_number}-{view.customer.account}@{settings.provider_domain}"
    return calendar_bytes(build_calendar(events, uid=uid))


def _compose_everything(sessions, settings: Settings) -> list:
    now = datetime.now(UTC)
    with sessions() as session:
        pairs = session.execute(
            select(Delivery.id, Delivery.notice_id).where(Delivery.state == DeliveryState.PENDING).order_by(Delivery.id)
        ).all()
        cache = RevisionCache(session)
        work = []
        for start in range(0, len(pairs), COMPOSE_BATCH):
            batch = pairs[start : start + COMPOSE_BATCH]
            notices = list(session.scalars(select(Notice).where(Notice.id.in_([n for _, n in batch]))))
            views = compose_views(session, [NoticeFacts.of(n) for n in notices], settings, now, cache)
            recipients = recipients_of(session, [d for d, _ in batch], settings)
            work += [(views[notice_id], recipients[delivery_id]) for delivery_id, notice_id in batch]
            session.expunge_all()
    return work


def deliver(
    url: str,
    home: str,
    sendgrid_host: str,
    batch: int,
    concurrency: int | None,
    profile: str | None = None,
    transport: str = "sendgrid",
) -> dict:
    engine = make_engine(url)
    settings = bench_settings(url, home, sendgrid_host)
    kind = SendGridTransport if transport == "sendgrid" else KeepAliveSendGrid
    transport = kind(settings.sendgrid_api_key, settings.sendgrid_api_host)
    worker = Worker(engine, transport, settings, lambda: datetime.now(UTC), batch_size=batch, concurrency=concurrency)
    favour_waiting_threads()  # as the worker and serve commands do
    started_rss, cpu = memory_kib("VmRSS"), os.times()
    started = time.perf_counter()
    with profiled(profile):
        handled = worker.drain()
    seconds = time.perf_counter() - started
    used = os.times()
    worker.close()
    with session_factory(engine)() as session:
        states = dict(session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
        sent = session.scalar(select(func.count()).select_from(Notice).where(Notice.state == NoticeState.SENT))
    return {
        "seconds": seconds,
        "handled": handled,
        "deliveries": states,
        "notices_sent": sent,
        "cpu_seconds": (used.user + used.system) - (cpu.user + cpu.system),
        "start_rss_kib": started_rss,
        "peak_rss_kib": memory_kib(),
    }


def remind(url: str, home: str, profile: str | None = None) -> dict:
    """The tick at the first reminder's moment: one transaction planning a reminder for
    every customer notified at publication."""
    engine = make_engine(url)
    settings = bench_settings(url, home)
    sessions = session_factory(engine)
    with sessions() as session:
        moment = session.scalar(select(func.min(Window.starts_at))) - max(settings.reminder_offsets)
    started_rss = memory_kib("VmRSS")
    started = time.perf_counter()
    with profiled(profile):
        result = tick(sessions, settings, moment)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "planned": result.planned.planned,
        "start_rss_kib": started_rss,
        "peak_rss_kib": memory_kib(),
    }


PHASES = {"setup": setup, "plan": plan, "floor": floor, "deliver": deliver, "remind": remind}


def run(name: str, arguments: dict) -> None:
    """Entry point of a phase process: prints its result as the last line of stdout."""
    if "size" in arguments:
        arguments["size"] = Size(**arguments["size"])
    result = PHASES[name](**arguments)
    print(json.dumps(result), flush=True)


def repository_root() -> Path:
    return Path(__file__).resolve().parents[2]
