"""A behaviour snapshot of planning and delivery, to show that a performance change
changes nothing: a scripted story (publish, deliver with 429, 500, 400 and crashes,
change impacts and windows, unsubscribe, reminders, cancel, an emergency GCR) at fixed
times with a fixed jitter seed, then every outbox row, every message sent and every feed
(fully rebuilt after the first change and at the end), as JSON.

    python bench/support/equivalence.py --root DIR --url DATABASE_URL --out FILE.json

Run it with the code before and after a change (`--root` holds that `changemgmt` and
`templates`) on fresh databases, and compare the files: they must be identical. Each
revision is compared whole (state and impacts), whichever way that code stores it.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

UTC = UTC
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
W1 = datetime(2026, 11, 12, 6, 0, tzinfo=UTC)
TABLES = (
    "gcrs",
    "windows",
    "impacts",
    "revisions",
    "audiences",
    "events",
    "notices",
    "deliveries",
    "recipients",
    "delivery_attempts",
)


class ScriptedTransport:
    """Fails by notice id and call number, so both runs see the same failures."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}
        self.log: list[dict] = []
        self.lock = threading.Lock()

    def send(self, message):
        from changemgmt.delivery.transports.base import SendError, SendResult

        with self.lock:
            call = self.calls.get(message.notice_id, 0)
            self.calls[message.notice_id] = call + 1
            self.log.append(_message(message, call))
        n, contacts = message.notice_id, [r.contact_id for r in message.recipients]
        if n % 9 == 1 and call == 0:
            raise SendError("slow down", permanent=False, status=429, retry_after=60)
        if n % 9 == 2 and call < 2:
            first = tuple(contacts[:1]) if len(contacts) > 1 else ()  # the first copy went out
            raise SendError("boom", permanent=False, status=500, sent_contact_ids=first)
        if n % 9 == 3:
            raise SendError("bad request", permanent=True, status=400)
        if n % 17 == 4 and call == 0:
            raise RuntimeError("connection reset")
        return SendResult(provider_message_id=f"m-{n}-{call}")


def _message(message, call: int) -> dict:
    return {
        "notice": message.notice_id,
        "call": call,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "ics": message.ics.decode(),
        "thread": message.thread_id,
        "recipients": [[r.contact_id, r.email, r.name, r.unsubscribe_token, r.delivery_id] for r in message.recipients],
    }


def story(url: str, home: str) -> dict:
    from sqlalchemy import text, update

    from bench.support.world import Size, build_inventory
    from changemgmt.config import load_settings
    from changemgmt.delivery.worker import Worker
    from changemgmt.domain.status import Status
    from changemgmt.gcrs.input import parse_patch
    from changemgmt.gcrs.service import Who, change_status, create_gcr, update_gcr
    from changemgmt.jobs.tick import tick_in
    from changemgmt.store.db import make_engine, session_factory, transaction
    from changemgmt.store.migrate import upgrade
    from changemgmt.store.models import Contact

    _deterministic_feed_tokens()
    engine = make_engine(url)
    upgrade(engine)
    build_inventory(engine, Size(40, 160, 100))
    sessions = session_factory(engine)
    settings = load_settings(
        {"DATABASE_URL": url, "CHANGEMGMT_HOME": home, "SECRET_KEY": "equivalence-snapshot-secret-key-0001"}
    )
    with engine.begin() as connection:
        connection.execute(update(Contact).where(Contact.id == 3).values(notice_kinds=["new", "cancelled"]))
        connection.execute(update(Contact).where(Contact.id == 5).values(reminders=False))
        connection.execute(update(Contact).where(Contact.id.in_((7, 8))).values(min_impact="OUTAGE"))
        connection.execute(update(Contact).where(Contact.id == 9).values(unsubscribed_at=T0 - timedelta(days=1)))
        connection.execute(update(Contact).where(Contact.id == 11).values(suppressed_at=T0 - timedelta(days=1)))
    clock = [T0]
    transport = ScriptedTransport()
    worker = Worker(engine, transport, settings, lambda: clock[0], batch_size=7, concurrency=3, rng=random.Random(5))

    def at(moment: datetime, action=None):
        clock[0] = moment
        if action:
            with transaction(sessions) as session:
                action(session, Who("eq", moment, settings))
        with transaction(sessions) as session:
            tick_in(session, settings, moment)
        # Batch by batch: drain() claims the next batch while one sends, so which batch a
        # delivery held back by an earlier one lands in (and so the retry jitter it draws)
        # depends on timing; run_once() settles each batch before claiming the next.
        while worker.run_once():
            pass

    def impacts(numbers, level=lambda n: "OUTAGE" if n % 3 else "DEGRADED"):
        return [
            {"service": f"SVC-{n:08d}", "impact": level(n), "max_outage_minutes": n % 4 * 15 or None} for n in numbers
        ]

    windows = [
        {"start": W1.isoformat(), "end": (W1 + timedelta(hours=4)).isoformat()},
        {"start": (W1 + timedelta(days=1)).isoformat(), "end": (W1 + timedelta(days=1, hours=3)).isoformat()},
    ]
    first = {
        "number": "GCR-1",
        "title": "Splice",
        "description": "Fibre splice.",
        "reason": "Loss",
        "work_location": "Dallas",
        "windows": windows,
        "impacts": impacts(range(1, 121)),
    }
    at(T0, lambda s, w: create_gcr(s, parse_patch(first), w))
    at(T0, lambda s, w: change_status(s, "GCR-1", Status.CONFIRMED, w))
    moved = [
        windows[0],
        {
            "number": 2,
            "start": (W1 + timedelta(days=2)).isoformat(),
            "end": (W1 + timedelta(days=2, hours=3)).isoformat(),
        },
    ]
    with engine.connect() as connection:  # customers 1 to 5 leave the GCR: "no longer affects you"
        leaving = set(connection.scalars(text("SELECT id FROM services WHERE customer_id <= 5")))
    kept = [n for n in range(21, 141) if n not in leaving]
    second = {
        "impacts": impacts(kept, lambda n: "DEGRADED" if n <= 40 else "OUTAGE"),
        "windows": [{"number": 1, **windows[0]}, moved[1]],
    }
    at(T0 + timedelta(hours=1), lambda s, w: update_gcr(s, "GCR-1", parse_patch(second), w))
    feeds = {"moved": _feeds(sessions, settings, T0 + timedelta(hours=1))}
    with engine.begin() as connection:
        connection.execute(update(Contact).where(Contact.id == 13).values(unsubscribed_at=T0 + timedelta(hours=1)))
    for moment in (
        T0 + timedelta(hours=1, minutes=5),
        T0 + timedelta(hours=2),
        W1 - timedelta(hours=72),
        W1 - timedelta(hours=24),
    ):
        at(moment)
    at(W1 - timedelta(hours=23), lambda s, w: update_gcr(s, "GCR-1", parse_patch({"description": "Bigger splice."}), w))
    at(W1 - timedelta(hours=12), lambda s, w: change_status(s, "GCR-1", Status.CANCELLED, w))
    start = W1 - timedelta(hours=6)
    urgent = {
        "number": "GCR-2",
        "title": "Card swap",
        "description": "Replace a card.",
        "emergency": True,
        "windows": [
            {"start": (start + timedelta(hours=3)).isoformat(), "end": (start + timedelta(hours=5)).isoformat()}
        ],
        "impacts": impacts(range(100, 131)),
    }
    at(start, lambda s, w: create_gcr(s, parse_patch(urgent), w))
    at(start, lambda s, w: change_status(s, "GCR-2", Status.CONFIRMED, w, override_reason="card failing"))
    at(start + timedelta(hours=3, minutes=1))
    at(start + timedelta(hours=4), lambda s, w: change_status(s, "GCR-2", Status.COMPLETED, w))
    at(start + timedelta(days=2))
    feeds["end"] = _feeds(sessions, settings, start + timedelta(days=2))
    worker.close()
    with engine.connect() as connection:
        rows = {
            t: [[_cell(v) for v in row] for row in connection.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in TABLES
        }
        rows["revisions"] = _whole_revisions(connection)
    log = sorted(transport.log, key=lambda m: (m["notice"], m["call"]))
    return _tokens_named(sessions, {"tables": rows, "messages": log, "feeds": feeds})


def _tokens_named(sessions, result: dict) -> dict:
    """The result with each feed token replaced by its feed's key, feeds unfolded: which
    counted token a feed gets depends on when it was made (at planning or at first mail),
    not on what anything says."""
    from sqlalchemy import select

    from changemgmt.feeds.feed_tokens import token_hash
    from changemgmt.store.models import Feed

    with sessions() as session:
        keys = dict(session.execute(select(Feed.token_hash, Feed.key)).all())
    for moment, files in result["feeds"].items():
        result["feeds"][moment] = {name: text.replace("\r\n ", "") for name, text in files.items()}
    named = re.sub(r"eq\d{40}A", lambda token: f"<feed {keys[token_hash(token.group())]}>", json.dumps(result))
    return json.loads(named)


def _deterministic_feed_tokens() -> None:
    """Feed tokens are random and every feed names its own (SOURCE): counted ones instead,
    so both runs write the same feeds."""
    from changemgmt.feeds import registry

    count = iter(range(1, 1_000_000))
    # 43 characters of base64 whose last one carries no spare bits, as a real token's:
    # one that does not decode back to itself does not open (feed_tokens.unseal).
    registry.new_token = lambda: f"eq{next(count):040d}A"


def _feeds(sessions, settings, now: datetime) -> dict[str, str]:
    """Every feed file (customer, enterprise, internal) after a full rebuild at `now`."""
    from changemgmt.feeds.publisher import rebuild_all

    rebuild_all(sessions, settings, now)
    return {p.name: p.read_bytes().decode() for p in sorted(settings.calendars_dir.glob("*.ics"))}


def _whole_revisions(connection) -> list:
    """The revisions table with each state whole, impacts included, however the code under
    test stores them: inside the JSON, or (since migration 0003) as revision_impacts spans."""
    from sqlalchemy import inspect, text

    spans = "revision_impacts" in inspect(connection).get_table_names()
    rows = []
    for row in connection.execute(text("SELECT * FROM revisions ORDER BY id")).mappings():
        row = dict(row)
        state = json.loads(row["state"]) if isinstance(row["state"], str) else row["state"]
        if spans:
            state["impacts"] = _impacts_at(connection, row["gcr_id"], row["number"])
        rows.append([_cell(v) for v in {**row, "state": state}.values()])
    return rows


def _impacts_at(connection, gcr_id: int, number: int) -> list[dict]:
    from sqlalchemy import text

    found = connection.execute(
        text(
            "SELECT s.service_id, r.level, r.max_outage_minutes FROM revision_impacts r "
            "JOIN services s ON s.id = r.service_pk WHERE r.gcr_id = :gcr AND r.from_revision <= :number "
            "AND (r.until_revision IS NULL OR r.until_revision > :number)"
        ),
        {"gcr": gcr_id, "number": number},
    )
    return [{"service_id": s, "impact": level, "max_outage_minutes": m} for s, level, m in sorted(found)]


def _cell(value) -> str:
    """JSON objects with sorted keys: their order in the database is not meaningful."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, (dict, list)) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="Folder holding the changemgmt package to run.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--home", default="/tmp")
    args = parser.parse_args()
    sys.path[:0] = [args.root, str(Path(__file__).resolve().parents[2])]
    logging.disable(logging.CRITICAL)  # the scripted crashes are logged with tracebacks
    result = story(args.url, args.home)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True))
    counts = {t: len(r) for t, r in result["tables"].items()}
    feeds = {moment: len(files) for moment, files in result["feeds"].items()}
    print(f"{len(result['messages'])} sends; rows: {counts}; feeds: {feeds}")


if __name__ == "__main__":
    main()
