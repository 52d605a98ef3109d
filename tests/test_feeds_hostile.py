"""No text a user can store corrupts a feed (issue 10): hostile text in every GCR text
field and in the inventory names a feed shows, through the real GCR service and the
real publisher (customer, enterprise and internal feeds, the internal one also updated
one GCR at a time from its own file), and every feed read by icalendar and by ical.js."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from changemgmt.domain import text as rules
from changemgmt.domain.status import Status
from changemgmt.feeds.publisher import rebuild_all, rebuild_dirty
from changemgmt.feeds.registry import Scope
from changemgmt.store import models
from changemgmt.store.db import session_factory, transaction
from conftest import empty_database
from support.feeds import GCR, Feeds, ical_js, parse, uid
from support.gcrs import Clock, Desk
from support.hostile import as_written, display_name, multi_line, one_line, texts, unescape
from world import build_world

NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)
NUMBERS = ("GCR-1001", "GCR-1002")


def _column(column) -> int:
    """The length of a text column, which the database enforces too."""
    return column.type.length


gcr_text = st.fixed_dictionaries(
    {
        "title": one_line(rules.TITLE_MAX, required=True),
        "description": multi_line(rules.DESCRIPTION_MAX, required=True),
        "reason": multi_line(rules.REASON_MAX),
        "work_location": one_line(rules.WORK_LOCATION_MAX),
        "contact": display_name(_column(models.Gcr.contact_name)),
    }
)

inventory_text = st.fixed_dictionaries(
    {
        "customer": display_name(_column(models.Customer.name), required=True),
        "enterprise": display_name(_column(models.Customer.name), required=True),
        "product": one_line(_column(models.Service.product)),
        "bandwidth": one_line(_column(models.Service.bandwidth)),
        "city": one_line(_column(models.Location.city)),
        "region": one_line(_column(models.Location.region)),
    }
)


def name_inventory(session, names: dict[str, str]) -> None:
    """Gives the small world's Acme rows the hostile names, as an import would store them."""
    acme = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-1001"))
    acme.name = rules.display_name(names["customer"], "name")
    acme.parent.name = rules.display_name(names["enterprise"], "name")
    service = session.scalar(select(models.Service).where(models.Service.service_id == "ACME-ETH-1"))
    service.product = rules.one_line(names["product"], "product", _column(models.Service.product))
    service.bandwidth = rules.one_line(names["bandwidth"], "bandwidth", _column(models.Service.bandwidth))
    service.a_end.city = rules.one_line(names["city"], "city", _column(models.Location.city))
    service.a_end.region = rules.one_line(names["region"], "region", _column(models.Location.region))


def document(number: str, text: dict[str, str]) -> dict:
    contact = {"name": text["contact"], "email": "noc@example.net", "phone": "+1 800 555 0100"}
    return (
        GCR | {key: value for key, value in text.items() if key != "contact"} | {"number": number, "contact": contact}
    )


def expected_uids(feed: tuple[str | None, Scope]) -> set[str]:
    account, scope = feed
    if scope is Scope.INTERNAL:
        return {uid(w, None, n) for n in NUMBERS for w in (1, 2)}
    shown = "ACC-1001" if account == "ENT-100" else account
    return {uid(w, shown, n) for n in NUMBERS for w in (1, 2)}


FEEDS = [
    ("ACC-1001", Scope.CUSTOMER),
    ("ACC-2002", Scope.CUSTOMER),
    ("ENT-100", Scope.ENTERPRISE),
    (None, Scope.INTERNAL),
]


def shown(text: str) -> str:
    """A stored text as an event shows it: every line break (CRLF, CR, LF) is a LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_feed(data: bytes, feed, stored: dict[str, models.Gcr], names: dict[str, str]) -> None:
    """The feed parses strictly, has each expected event once, and says what was stored."""
    physical = data.split(b"\r\n")
    expected = expected_uids(feed)
    assert physical.count(b"BEGIN:VEVENT") == physical.count(b"END:VEVENT") == len(expected)
    calendar = parse(data)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == expected and len(calendar.walk("VEVENT")) == len(expected)
    written = texts(data)
    for key in events:
        gcr = stored[key.split("-W")[0]]
        assert gcr.title in written[key]["SUMMARY"]
        description = written[key]["DESCRIPTION"]
        assert f"Work: {shown(gcr.description)}\n" in description
        assert (f"Why: {shown(gcr.reason)}\n" in description) == bool(gcr.reason)
        assert written[key].get("LOCATION", "") == as_written(gcr.work_location)
        if "ACC-1001" in key or feed[1] is Scope.INTERNAL:
            assert names["product"] in description and names["city"] in description
    if feed[0] == "ACC-1001":
        assert names["customer"] in written[""]["NAME"] == written[""]["X-WR-CALNAME"]
    if feed[1] is Scope.INTERNAL:
        assert f"for ACC-1001 ({names['customer']})" in written[next(iter(events))]["DESCRIPTION"]


def run_example(db, settings, inventory: dict, texts: list[dict]) -> list[Path]:
    """Publishes two GCRs and changes one, rebuilding after each step; checks every feed;
    returns their files."""
    with transaction(db) as session:
        build_world(session)
        name_inventory(session, inventory)
    clock = Clock(NOW)
    desk = Desk(db, settings, clock)
    rebuild_all(db, settings, clock())
    for number, text in zip(NUMBERS, texts):
        desk.publish(document(number, text))
    rebuild_dirty(db, settings, clock())
    clock.advance(hours=1)
    moved = {"number": 1, "start": "2026-12-02T07:00Z", "end": "2026-12-02T11:00Z"}
    desk.update("GCR-1001", {"windows": [moved, GCR["windows"][1] | {"number": 2}], "title": texts[1]["title"]})
    desk.status("GCR-1002", Status.CANCELLED)
    rebuild_dirty(db, settings, clock())  # the internal feed reads the hostile events back from its file
    feeds = Feeds(db, settings, clock)
    with db() as session:
        stored = {g.number: g for g in session.scalars(select(models.Gcr))}
        service = session.scalar(select(models.Service).where(models.Service.service_id == "ACME-ETH-1"))
        names = {"customer": service.customer.name, "product": service.product, "city": service.a_end.city}
    paths = [feeds.path(account, scope) for account, scope in FEEDS]
    for feed, path in zip(FEEDS, paths):
        check_feed(path.read_bytes(), feed, stored, names)
    spliced = paths[-1].read_bytes()
    paths[-1].unlink()
    rebuild_all(db, settings, clock())
    assert paths[-1].read_bytes() == spliced  # one GCR at a time gives the bytes of a full build
    return paths


def test_no_stored_text_corrupts_a_feed(engine, settings, tmp_path_factory):
    written: list[Path] = []

    @hypothesis_settings(max_examples=8, deadline=None)
    @given(inventory=inventory_text, texts=st.lists(gcr_text, min_size=2, max_size=2))
    def example(inventory, texts):
        empty_database(engine)
        home = dataclasses.replace(settings, calendars_dir=tmp_path_factory.mktemp("calendars"))
        written.extend(run_example(session_factory(engine), home, inventory, texts))

    try:
        example()
    finally:
        empty_database(engine)
    read = ical_js(written)
    for path, seen in zip(written, read):
        written = texts(path.read_bytes())
        ours = {uid: (t["SUMMARY"], t["DESCRIPTION"], t.get("LOCATION", "")) for uid, t in written.items() if uid}
        theirs = {e["uid"]: (e["summary"], e["description"], e["location"] or "") for e in seen["events"]}
        assert theirs == ours, path
        # ical.js does not know NAME (RFC 7986): it keeps the value as written, escaped.
        name = seen["name"]["value"]
        assert (unescape(name) if seen["name"]["type"] == "unknown" else name) == written[""]["NAME"]
