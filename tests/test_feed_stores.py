"""One contract for both feed stores (FEED_STORE=files | database), as STYLE asks of job
stores and transports: the publisher writes each changed feed once and leaves unchanged
ones alone, reads the internal feed back for its incremental update, and a rotated or
unknown token's feed is removed. Each store's writes are counted where they land: the
atomic file write, or the rows sent to the feed_documents table."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from changemgmt.domain.status import Status
from changemgmt.feeds import files
from changemgmt.feeds.feed_tokens import token_hash
from changemgmt.feeds.manage import rotate_feed
from changemgmt.feeds.publisher import drop_rotated, publish, rebuild_all, rebuild_dirty
from changemgmt.feeds.registry import FeedToken, Scope
from changemgmt.feeds.stores import DatabaseStore, FileStore, store_of
from changemgmt.store import models
from support.feeds import GCR, Feeds, events, parse

ACCOUNTS = [("ACC-1001", Scope.CUSTOMER), ("ACC-2002", Scope.CUSTOMER), ("ENT-100", Scope.ENTERPRISE)]


@pytest.fixture(params=["files", "database"])
def env(request, env):
    return env | {"FEED_STORE": request.param}


@pytest.fixture
def store(settings, db):
    return store_of(settings, db)


@pytest.fixture
def writes(store, engine, monkeypatch):
    """The token hashes of the feeds each store actually writes, in order."""
    hashes: list[str] = []
    if isinstance(store, FileStore):
        real = files.write_atomic

        def counting(folder, name, data, *mode):
            hashes.append(token_hash(name.removesuffix(".ics")))
            real(folder, name, data, *mode)

        monkeypatch.setattr(files, "write_atomic", counting)
        yield hashes
        return

    def rows(connection, statement, multiparams, params, options):
        if getattr(statement, "is_insert", False) and statement.table is models.FeedDocument.__table__:
            hashes.extend(row["token_hash"] for row in multiparams or [params])

    event.listen(engine, "before_execute", rows)
    yield hashes
    event.remove(engine, "before_execute", rows)


def test_the_configured_store_is_used(store, settings):
    assert isinstance(store, FileStore if settings.feed_store == "files" else DatabaseStore)


def hashes_of(feeds: Feeds, *which: tuple[str | None, Scope]) -> list[str]:
    return sorted(token_hash(feeds.token(account, scope).token) for account, scope in which)


def test_each_changed_feed_is_written_once_and_unchanged_ones_are_left_alone(writes, desk, feeds, db, settings, clock):
    with db() as session:
        every = sorted(session.scalars(select(models.Feed.token_hash)))
    assert sorted(writes) == every  # the `feeds` fixture wrote each once
    writes.clear()
    assert rebuild_all(db, settings, clock()).total == 0 and writes == []
    desk.publish(GCR)
    written = rebuild_dirty(db, settings, clock())
    assert (written.customer, written.enterprise, written.internal) == (2, 1, 1)
    assert sorted(writes) == hashes_of(feeds, *ACCOUNTS, (None, Scope.INTERNAL))
    writes.clear()
    clock.advance(hours=1)
    impacts = [i | {"impact": "OUTAGE"} if i["service"] == "GLBX-WAVE-1" else i for i in GCR["impacts"]]
    desk.update("GCR-1001", {"impacts": impacts})  # only Globex's event changes
    rebuild_dirty(db, settings, clock())
    assert sorted(writes) == hashes_of(feeds, ("ACC-2002", Scope.CUSTOMER), (None, Scope.INTERNAL))
    assert "OUTAGE" in feeds.read("ACC-2002").decode()


def test_what_is_read_back_is_what_was_written(feeds, db, settings, clock, store):
    acme = feeds.token("ACC-1001")
    data = store.read(acme)
    assert data is not None and parse(data)["SOURCE"] == f"{settings.base_url}/calendars/{acme.file_name}"
    with db() as session:
        again = publish(session, settings, clock(), [acme], store=store)
    assert (again.total, again.unchanged) == (0, 1)
    assert store.read(FeedToken(acme.feed, "Q" * 43)) is None


def test_the_internal_feed_updated_one_gcr_at_a_time_equals_a_full_build(desk, feeds, db, settings, clock, store):
    internal = feeds.token(None, Scope.INTERNAL)
    for n in range(3):
        desk.publish(GCR | {"number": f"GCR-10{n}"})
        rebuild_dirty(db, settings, clock())
    clock.advance(days=1)
    desk.update("GCR-101", {"windows": [GCR["windows"][0] | {"number": 1}]})
    desk.status("GCR-102", Status.CANCELLED)
    rebuild_dirty(db, settings, clock())
    spliced = store.read(internal)
    assert spliced is not None and len(parse(spliced).walk("VEVENT")) == 6
    assert store.remove(internal.token)
    rebuild_all(db, settings, clock())
    assert store.read(internal) == spliced


def test_rotation_removes_the_old_feed_at_once_and_writes_the_new_one(published_feeds, db, settings, clock, store):
    old = published_feeds.token("ACC-1001")
    content = store.read(old)
    fresh = rotate_feed(db, settings, clock(), "ACC-1001", Scope.CUSTOMER, "alice")
    assert store.read(old) is None
    served = store.read(fresh)
    assert served is not None and parse(served)["SOURCE"].endswith(f"/calendars/{fresh.file_name}")
    assert events(served).keys() == events(content).keys() != set()
    assert not store.remove(old.token)


def test_a_feed_written_under_a_token_rotated_meanwhile_is_removed(feeds, db, settings, clock, store):
    stale = feeds.token("ACC-1001")
    rotate_feed(db, settings, clock(), "ACC-1001", Scope.CUSTOMER, "alice")
    with db() as session:
        written = publish(session, settings, clock(), [stale])  # a rebuild that read the old token
    assert store.read(stale) is not None
    assert drop_rotated(db, settings, written) == 1
    assert store.read(stale) is None


def test_a_full_rebuild_removes_feeds_no_token_names(feeds, db, settings, clock, store):
    acme = feeds.token("ACC-1001")
    stray = FeedToken(acme.feed, "A" * 43)  # as a crash mid-rotation leaves it
    with store.writer() as writer:
        writer.submit(stray, b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", lambda changed: None)
    assert store.read(stray) is not None
    assert rebuild_all(db, settings, clock()).removed == 1
    assert store.read(stray) is None and store.read(acme) is not None


def test_a_writer_reports_what_it_wrote(feeds, store):
    acme = feeds.token("ACC-1001")
    told: list[bool] = []
    current = store.read(acme)
    with store.writer() as writer:
        writer.submit(acme, current, told.append)
        writer.submit(FeedToken(acme.feed, "B" * 43), current, told.append)
    assert told == [False, True]
