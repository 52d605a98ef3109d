"""FEED_STORE=database: feeds served by web processes from the database (SPEC §5, §9;
STANDARDS A41-A44, F3-F5), with the file route's headers, 304s and 404s. Two real
`changemgmt web` processes serve the same feeds; the route itself is checked through
its ASGI interface, with the SQL it runs counted."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from email.utils import formatdate

import httpx
import pytest
from sqlalchemy import event, select

from changemgmt.feeds import files
from changemgmt.feeds.manage import rotate_feed
from changemgmt.feeds.publisher import rebuild_dirty
from changemgmt.feeds.registry import Scope, rotate
from changemgmt.store import models
from changemgmt.store.db import make_engine, transaction
from changemgmt.web.app import create_app
from changemgmt.web.feeddocs import FeedDocuments
from changemgmt.web.feedfiles import FeedFiles
from support.feeds import ical_js, parse
from support.web import web_process

UNKNOWN = "Z" * 43
FEEDS = [("ACC-1001", Scope.CUSTOMER), ("ENT-100", Scope.ENTERPRISE), (None, Scope.INTERNAL)]


@pytest.fixture
def env(env):
    return env | {"FEED_STORE": "database"}


@pytest.fixture
def feeds(published_feeds):
    return published_feeds


def path_of(feeds, account, scope=Scope.CUSTOMER) -> str:
    return f"/calendars/{feeds.token(account, scope).file_name}"


def test_two_web_processes_serve_the_same_feeds_from_the_database(env, feeds, db, settings, clock, tmp_path):
    paths = [path_of(feeds, account, scope) for account, scope in FEEDS]
    with web_process(env) as (one, stop_one), web_process(env) as (two, stop_two):
        for path, (account, scope) in zip(paths, FEEDS):
            first, second = httpx.get(one + path), httpx.get(two + path)
            assert first.status_code == second.status_code == 200
            assert first.content == second.content == feeds.read(account, scope)
            for name in ("etag", "last-modified", "content-type", "cache-control", "content-length"):
                assert first.headers[name] == second.headers[name], name
            assert first.headers["content-type"] == "text/calendar; charset=utf-8"
            assert first.headers["cache-control"] == "private, max-age=300"
            for url in (one, two):  # either process's ETag is the other's
                again = httpx.get(url + path, headers={"If-None-Match": first.headers["etag"]})
                assert (again.status_code, again.content) == (304, b"")
                head = httpx.head(url + path)
                assert (head.status_code, head.content) == (200, b"")
                assert head.headers["content-length"] == first.headers["content-length"]
            (tmp_path / f"{scope.value}.ics").write_bytes(first.content)
        fresh = rotate_feed(db, settings, clock(), "ACC-1001", Scope.CUSTOMER, "alice")
        assert httpx.get(one + paths[0]).status_code == httpx.get(two + paths[0]).status_code == 404
        new = f"/calendars/{fresh.file_name}"
        assert httpx.get(one + new).status_code == httpx.get(two + new).status_code == 200
        logs = stop_one() + stop_two()
    assert [calendar["events"] != [] for calendar in ical_js(sorted(tmp_path.glob("*.ics")))] == [True] * 3
    assert "/calendars/<redacted>" in logs
    assert not any(path.split("/")[-1].removesuffix(".ics") in logs for path in [*paths, new])


def call(app, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """One request through the ASGI interface, as uvicorn would make it."""
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    asyncio.run(app(scope, None, send))
    return httpx.Response(
        sent[0]["status"], headers=sent[0]["headers"], content=b"".join(m.get("body", b"") for m in sent[1:])
    )


@pytest.fixture
def statements(engine):
    """The queries run on feed_documents (SQLite's BEGIN and COMMIT left out)."""
    seen: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        if "feed_documents" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def route(engine):
    served = FeedDocuments(engine)
    yield served
    served.close()


def bodies_read(statements: list[str]) -> int:
    return sum("feed_documents.body" in statement for statement in statements)


def test_a_304_and_a_head_are_answered_without_reading_the_body(route, engine, feeds, statements):
    acme = path_of(feeds, "ACC-1001")
    other = FeedDocuments(engine)  # as another process would
    etag = call(other, "GET", acme).headers["etag"]
    other.close()
    statements.clear()
    assert call(route, "GET", acme, {"If-None-Match": etag}).status_code == 304
    assert call(route, "HEAD", acme).status_code == 200
    assert len(statements) == 2 and bodies_read(statements) == 0
    stored = feeds.read("ACC-1001")
    statements.clear()
    assert call(route, "GET", acme).content == stored
    assert len(statements) == 2 and bodies_read(statements) == 1
    statements.clear()
    for _ in range(3):  # a hot feed: its ETag checked each time, its body read from the cache
        assert call(route, "GET", acme).status_code == 200
    assert len(statements) == 3 and bodies_read(statements) == 0


def test_a_changed_feed_is_served_at_once_by_a_process_that_cached_it(route, desk, feeds, db, settings, clock):
    acme = path_of(feeds, "ACC-1001")
    before = call(route, "GET", acme)
    clock.advance(hours=1)
    desk.update("GCR-1001", {"title": "Fibre repair on the Dallas ring"})
    rebuild_dirty(db, settings, clock())
    after = call(route, "GET", acme, {"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and b"Fibre repair" in after.content
    assert after.headers["etag"] != before.headers["etag"]
    assert after.content == feeds.read("ACC-1001")


def test_a_rotated_token_answers_404_as_soon_as_the_rotation_commits(route, feeds, db, settings, clock):
    """Even before its stored feed is removed, and from a process that had it cached."""
    acme = path_of(feeds, "ACC-1001")
    assert call(route, "GET", acme).status_code == 200
    with transaction(db) as session:
        feed = session.scalar(select(models.Feed).where(models.Feed.key == feeds.token("ACC-1001").feed.key))
        rotate(session, feed, settings, clock(), "alice")
    with db() as session:
        assert session.scalar(select(models.FeedDocument.token_hash).where(models.FeedDocument.feed_id == feed.id))
    assert call(route, "GET", acme).status_code == 404
    assert call(route, "HEAD", acme).status_code == 404


def test_if_modified_since_is_honoured_only_without_if_none_match(route, feeds):
    acme = path_of(feeds, "ACC-1001")
    modified = call(route, "GET", acme).headers["last-modified"]
    earlier = formatdate(time.time() - 86400 * 365 * 20, usegmt=True)
    assert call(route, "GET", acme, {"If-Modified-Since": modified}).status_code == 304
    assert call(route, "GET", acme, {"If-Modified-Since": earlier}).status_code == 200
    assert call(route, "GET", acme, {"If-Modified-Since": modified, "If-None-Match": '"old"'}).status_code == 200


@pytest.mark.parametrize("path", [f"/calendars/{UNKNOWN}.ics", "/calendars/short.ics", "/calendars/"])
def test_unknown_or_malformed_names_get_404(route, feeds, path):
    response = call(route, "GET", path)
    assert response.status_code == 404 and "text/calendar" not in response.headers["content-type"]


def test_only_the_canonical_spelling_and_get_or_head_are_served(route, feeds):
    acme = path_of(feeds, "ACC-1001")
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    escaped = acme.replace("/calendars/", "/calendars%2F").encode()
    asyncio.run(route({"type": "http", "method": "GET", "path": acme, "raw_path": escaped, "headers": []}, None, send))
    assert sent[0]["status"] == 404
    response = call(route, "POST", acme)
    assert (response.status_code, response.headers["allow"]) == (405, "GET, HEAD")


def test_the_etag_is_the_file_routes_for_the_same_bytes(route, feeds, tmp_path):
    """A feed keeps its ETag, and subscribers their 304s, when moved between stores."""
    acme = feeds.token("ACC-1001")
    files.write_atomic(tmp_path, acme.file_name, feeds.read("ACC-1001"))
    entry = FeedFiles(tmp_path).lookup(acme.token)
    assert entry is not None
    assert call(route, "GET", f"/calendars/{acme.file_name}").headers["etag"] == entry.etag.decode()


def test_the_database_holds_no_feed_token(feeds, db):
    tokens = [feeds.token(account, scope).token.encode() for account, scope in FEEDS]
    with db() as session:
        rows = session.execute(select(models.FeedDocument)).scalars().all()
    assert len(rows) == 6
    for row in rows:
        stored = row.body.replace(b"\r\n ", b"") + repr(vars(row)).encode()
        assert not any(token in stored for token in tokens)
    assert all(token in feeds.read(a, s).replace(b"\r\n ", b"") for token, (a, s) in zip(tokens, FEEDS))


def _median_micros(app, paths: list[str], rounds: int = 300) -> list[float]:
    async def send(message) -> None:
        pass

    async def run() -> list[list[float]]:
        timings: list[list[float]] = [[] for _ in paths]
        for _ in range(rounds):
            for path, values in zip(paths, timings):  # interleaved, so load on the machine hits both alike
                scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "headers": []}
                start = time.perf_counter_ns()
                await app(scope, None, send)
                values.append((time.perf_counter_ns() - start) / 1000)
        return timings

    return [statistics.median(values) for values in asyncio.run(run())]


def test_an_unknown_token_takes_as_long_as_a_known_one(route, feeds):
    acme = path_of(feeds, "ACC-1001")
    call(route, "GET", acme)  # in the cache, as a hot feed is
    hit, miss, malformed = _median_micros(route, [acme, f"/calendars/{UNKNOWN}.ics", "/calendars/x.ics"])
    assert 0.6 < miss / hit < 1.5 and 0.6 < malformed / hit < 1.5, (hit, miss, malformed)


def test_when_the_database_cannot_be_read_feeds_answer_503_and_it_is_logged_once(feeds, caplog):
    route = FeedDocuments(make_engine("postgresql://nobody@127.0.0.1:1/none", hide_parameters=True))
    acme = path_of(feeds, "ACC-1001")
    with caplog.at_level(logging.ERROR, logger="changemgmt.web.feeddocs"):
        answers = [call(route, "GET", acme) for _ in range(3)]
    route.close()
    assert {(a.status_code, a.headers["retry-after"]) for a in answers} == {(503, "5")}
    assert [r.getMessage() for r in caplog.records] == ["feeds cannot be read from the database: OperationalError"]
    assert acme.split("/")[-1] not in caplog.text


def test_the_app_serves_from_the_database_when_feed_store_says_so(settings, feeds):
    assert settings.feed_store == "database" and not list(settings.calendars_dir.glob("*.ics"))
    app = create_app(settings)
    response = call(app, "GET", path_of(feeds, "ENT-100", Scope.ENTERPRISE))
    assert response.status_code == 200 and "Acme Holdings" in str(parse(response.content)["NAME"])
    assert call(app, "GET", "/healthz").status_code == 200


def test_a_feed_store_not_known_is_refused(env):
    from changemgmt.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="FEED_STORE: 'redis' is not one of files, database"):
        load_settings(env | {"FEED_STORE": "redis"})
