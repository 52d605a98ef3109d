"""Publishing: a GCR change records the feeds to rebuild in its own transaction; only
those files are rewritten, each atomically; rotation kills the old URL at once."""

from __future__ import annotations

import threading

import icalendar
import pytest
from sqlalchemy import func, select

from changemgmt.domain.errors import DomainError
from changemgmt.domain.status import Status
from changemgmt.feeds import files
from changemgmt.feeds.feed_tokens import seal
from changemgmt.feeds.manage import rotate_feed
from changemgmt.feeds.publisher import drop_rotated, publish, rebuild_all, rebuild_dirty
from changemgmt.feeds.registry import Scope, with_token
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who, change_status, update_gcr
from changemgmt.store import models
from changemgmt.store.db import transaction
from changemgmt.web.feedfiles import FeedFiles
from support.feeds import GCR, events, parse


@pytest.fixture
def writes(monkeypatch):
    """Names of the files written, in order."""
    names: list[str] = []
    real = files.write_atomic

    def counting(folder, name, data, *mode):
        names.append(name)
        real(folder, name, data, *mode)

    monkeypatch.setattr(files, "write_atomic", counting)
    return names


def requested(db) -> list[str]:
    with db() as session:
        return sorted(session.scalars(select(models.FeedRebuild.feed_key)))


def customer_id(db, account: str) -> int:
    with db() as session:
        return session.scalar(select(models.Customer.id).where(models.Customer.account == account))


def test_a_gcr_change_records_the_feeds_to_rebuild_in_its_transaction(desk, db):
    desk.publish(GCR)
    acme, globex, enterprise = (customer_id(db, a) for a in ("ACC-1001", "ACC-2002", "ENT-100"))
    assert set(requested(db)) == {f"customer:{acme}", f"customer:{globex}", f"enterprise:{enterprise}", "internal"}


def test_a_refused_change_records_nothing(desk, db, feeds):
    desk.create(GCR)
    with pytest.raises(DomainError):
        with transaction(db) as session:
            who = Who("alice", desk.clock(), desk.settings)
            change_status(session, "GCR-1001", Status.CONFIRMED, who)
            assert requested(db) == []  # not visible outside the transaction
            update_gcr(session, "GCR-1001", parse_patch({"title": "bad\ntitle"}), who)
    assert requested(db) == []


def test_only_the_affected_feeds_are_rewritten(desk, feeds, db, settings, clock, writes):
    desk.publish(GCR)
    rebuild_dirty(db, settings, clock())
    writes.clear()
    clock.advance(hours=1)
    impacts = [i | {"impact": "OUTAGE"} if i["service"] == "GLBX-WAVE-1" else i for i in GCR["impacts"]]
    desk.update("GCR-1001", {"impacts": impacts})  # only Globex's event changes
    written = rebuild_dirty(db, settings, clock())
    assert (written.customer, written.enterprise, written.internal) == (1, 0, 1)
    assert sorted(writes) == sorted([feeds.token("ACC-2002").file_name, feeds.token(None, Scope.INTERNAL).file_name])
    assert requested(db) == []
    assert rebuild_dirty(db, settings, clock()).total == 0


def test_a_change_to_ten_customers_writes_ten_customer_feeds(desk, db, settings, clock, writes):
    with transaction(db) as session:
        for n in range(12):
            customer = models.Customer(account=f"ACC-9{n:03d}", name=f"Customer {n}", time_zone="UTC")
            session.add(models.Service(service_id=f"SVC-9{n:03d}", customer=customer))
    rebuild_all(db, settings, clock())
    impacts = [{"service": f"SVC-9{n:03d}", "impact": "OUTAGE"} for n in range(10)]
    desk.publish(GCR | {"impacts": impacts})
    writes.clear()
    written = rebuild_dirty(db, settings, clock())
    assert (written.customer, written.enterprise, written.internal) == (10, 0, 1)
    assert len(writes) == 11


def test_the_internal_feed_updated_one_gcr_at_a_time_equals_a_full_build(desk, feeds, db, settings, clock):
    internal = feeds.path(None, Scope.INTERNAL)
    for n in range(3):
        desk.publish(GCR | {"number": f"GCR-10{n}"})
        rebuild_dirty(db, settings, clock())
    clock.advance(days=1)
    desk.update("GCR-101", {"windows": [GCR["windows"][0] | {"number": 1}]})
    desk.status("GCR-102", Status.CANCELLED)
    rebuild_dirty(db, settings, clock())
    spliced = internal.read_bytes()
    assert len(parse(spliced).walk("VEVENT")) == 6
    internal.unlink()
    rebuild_all(db, settings, clock())
    assert internal.read_bytes() == spliced


def test_a_damaged_internal_feed_is_built_whole_again(desk, feeds, db, settings, clock):
    """An internal feed that lost an END:VEVENT line (as splitting by substring once made
    it) is not split wrongly again: the incremental update builds it whole."""
    internal = feeds.path(None, Scope.INTERNAL)
    desk.publish(GCR)
    rebuild_dirty(db, settings, clock())
    internal.write_bytes(internal.read_bytes().replace(b"\r\nEND:VEVENT\r\n", b"\r\n", 1))
    desk.publish(GCR | {"number": "GCR-1002"})
    rebuild_dirty(db, settings, clock())
    repaired = internal.read_bytes()
    assert len(parse(repaired).walk("VEVENT")) == 4
    internal.unlink()
    rebuild_all(db, settings, clock())
    assert internal.read_bytes() == repaired


def test_rotation_deletes_the_old_file_at_once_and_writes_the_new_one(feeds, desk, db, settings, clock):
    desk.publish(GCR)
    rebuild_dirty(db, settings, clock())
    old = feeds.path("ACC-1001")
    content = old.read_bytes()
    fresh = rotate_feed(db, settings, clock(), "ACC-1001", Scope.CUSTOMER, "alice")
    new = settings.calendars_dir / fresh.file_name
    assert not old.exists() and new.exists()
    assert parse(new.read_bytes())["SOURCE"].endswith(f"/calendars/{fresh.file_name}")
    assert events(new.read_bytes()).keys() == events(content).keys() != set()
    with db() as session:
        audit = session.scalar(select(func.count()).select_from(models.AuditEntry).filter_by(entity="feed"))
    assert audit == 1


def test_a_file_written_under_a_token_rotated_meanwhile_is_deleted(feeds, db, settings, clock):
    with db() as session:
        feed = session.scalar(select(models.Feed).where(models.Feed.key == f"customer:{customer_id(db, 'ACC-1001')}"))
        stale = with_token(feed, settings)
    rotate_feed(db, settings, clock(), "ACC-1001", Scope.CUSTOMER, "alice")
    with db() as session:
        written = publish(session, settings, clock(), [stale])  # a rebuild that read the old token
    assert (settings.calendars_dir / stale.file_name).exists()
    assert drop_rotated(db, settings, written) == 1
    assert not (settings.calendars_dir / stale.file_name).exists()


def test_a_full_rebuild_deletes_files_no_feed_owns(feeds, db, settings, clock):
    stray = settings.calendars_dir / ("A" * 43 + ".ics")
    stray.write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    keep = settings.calendars_dir / "README.txt"
    keep.write_text("not a feed")
    assert rebuild_all(db, settings, clock()).removed == 1
    assert not stray.exists() and keep.exists()


def test_a_feed_whose_token_does_not_open_is_reported_and_the_others_are_written(feeds, desk, db, settings, clock):
    old = feeds.path("ACC-1001")
    key = f"customer:{customer_id(db, 'ACC-1001')}"
    with transaction(db) as session:  # as if SECRET_KEY had changed since this feed was made
        feed = session.scalar(select(models.Feed).where(models.Feed.key == key))
        feed.token_sealed = seal(old.stem, b"a key we no longer have")
    desk.publish(GCR)
    written = rebuild_dirty(db, settings, clock())
    assert written.unreadable == [key]
    assert (written.customer, written.enterprise, written.internal) == (1, 1, 1)
    fresh = rotate_feed(db, settings, clock(), "ACC-1001", Scope.CUSTOMER, "alice")
    assert (settings.calendars_dir / fresh.file_name).exists() and old.exists()
    assert rebuild_all(db, settings, clock()).removed == 1 and not old.exists()


def test_readers_never_see_a_partial_file_while_writers_run(tmp_path):
    """Readers of the file, and of the web app's cache, always get a whole version."""
    folder = tmp_path / "calendars"
    files.ensure_folder(folder)
    name = "T" * 43
    versions = [_calendar(n, events) for n, events in enumerate((1, 400, 50, 900))]
    files.write_atomic(folder, f"{name}.ics", versions[0])
    served = FeedFiles(folder)
    stop = threading.Event()
    seen, errors = set(), []

    def read(through_app: bool) -> None:
        while not stop.is_set():
            data = served.lookup(name).body if through_app else (folder / f"{name}.ics").read_bytes()
            if data not in versions:
                errors.append(len(data))
                return
            version = versions.index(data)
            if version not in seen:  # every read is one of these, so parsing each once suffices
                seen.add(version)
                icalendar.Calendar.from_ical(data)

    readers = [threading.Thread(target=read, args=(n % 2 == 0,)) for n in range(4)]
    for thread in readers:
        thread.start()
    for round_ in range(200):
        files.write_atomic(folder, f"{name}.ics", versions[round_ % len(versions)])
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert len(seen) > 1
    assert not list(folder.glob(".*.tmp"))


def _calendar(version: int, count: int) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:-//test//v{version}//EN"]
    for n in range(count):
        lines += [
            "BEGIN:VEVENT",
            f"UID:{version}-{n}@example.net",
            "DTSTAMP:20261102T150000Z",
            "DTSTART:20261201T070000Z",
            f"SUMMARY:event {n} of version {version}",
            "END:VEVENT",
        ]
    return ("\r\n".join(lines + ["END:VCALENDAR"]) + "\r\n").encode()


def test_a_feed_that_cannot_be_rebuilt_fails_alone_and_is_tried_again_next_round(desk, feeds, db, settings, clock):
    acme_only = {**GCR, "number": "GCR-1002", "impacts": [{"service": "ACME-ETH-1"}]}
    globex_only = {**GCR, "number": "GCR-1003", "impacts": [{"service": "GLBX-WAVE-1"}]}
    desk.publish(acme_only)
    desk.publish(globex_only)
    with transaction(db) as session:  # GCR-1002's revision can no longer be read
        broken = session.scalar(select(models.Gcr.id).where(models.Gcr.number == "GCR-1002"))
        kept = session.execute(
            select(models.Revision.id, models.Revision.state).where(models.Revision.gcr_id == broken)
        )
        saved = {revision_id: state for revision_id, state in kept}
        session.execute(models.Revision.__table__.update().where(models.Revision.gcr_id == broken).values(state={}))
    written = rebuild_dirty(db, settings, clock())
    assert sorted(written.failed) == [f"customer:{_id(db, 'ACC-1001')}", f"enterprise:{_id(db, 'ENT-100')}"]
    assert written.customer == 1 and written.internal == 1  # Globex's feed and the internal one
    assert all(str(e["SUMMARY"]).startswith("[GCR-1003]") for e in feeds.events("ACC-2002").values())
    assert len(feeds.events("ACC-2002")) == 2
    assert feeds.events("ACC-1001") == {}  # not rewritten yet, and its request is kept
    with db() as session:
        assert set(session.scalars(select(models.FeedRebuild.feed_key))) == set(written.failed)
    with transaction(db) as session:
        for revision_id, state in saved.items():
            session.execute(
                models.Revision.__table__.update().where(models.Revision.id == revision_id).values(state=state)
            )
    again = rebuild_dirty(db, settings, clock())
    assert again.failed == [] and (again.customer, again.enterprise) == (1, 1)
    assert len(feeds.events("ACC-1001")) == 2
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.FeedRebuild)) == 0


def _id(db, account: str) -> int:
    with db() as session:
        return session.scalar(select(models.Customer.id).where(models.Customer.account == account))
