"""Serving /calendars/<token>.ics from the database (FEED_STORE=database), so web processes
on any machine serve what a worker on another wrote, with the file route's headers and
answers (changemgmt/web/feedfiles.py: ETag, Last-Modified, Cache-Control: private, 304,
HEAD, one canonical path spelling).

Every request asks the database whether its token is still a feed's and for that feed's
ETag (`current_validators`: two unique indexes, no body), so a rotated token answers 404
from the moment the rotation commits, on every process. What keeps this cheap:
- the requests that arrive while such a query runs are answered together by the next
  one (one query per batch, however many requests; see `Batched`);
- a 304 and a HEAD are answered from the ETag, Last-Modified and size alone;
- bodies are kept in a per-process cache keyed by ETag, so only the first 200 after a
  change reads one;
- each pool thread keeps one autocommit connection: a query is one round trip.

An unknown or malformed token goes through the same steps as a known one (the look-up
of a hash that no feed has) and answers 404: timing does not tell them apart (A44, F4).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine

from changemgmt.config import Settings
from changemgmt.feeds.feed_tokens import is_token, token_hash
from changemgmt.feeds.stores.database import Validators, current_document, current_validators
from changemgmt.store.db import make_engine
from changemgmt.web.feedfiles import Entry, FeedFiles, is_fresh, make_entry, not_found, not_modified, ok, plain
from changemgmt.web.paths import feed_token

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")
NO_TOKEN = "-"  # looked up in place of a malformed token: never a token, so never a feed
log = logging.getLogger(__name__)


class Batched(Generic[K, V]):
    """`get(key)` for many concurrent requests, answered by one call of `lookup(keys)` on
    `pool` per batch. A request that arrives while a look-up runs waits for the next one,
    which starts after it arrived: an answer never predates its request."""

    def __init__(self, lookup: Callable[[list[K]], dict[K, V]], pool: ThreadPoolExecutor) -> None:
        self.lookup, self.pool = lookup, pool
        self.waiting: list[tuple[K, asyncio.Future[V | None]]] = []
        self.running = False

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        self.waiting.append((key, future))
        if not self.running:
            self.running = True
            loop.create_task(self._run(loop))
        return await future

    async def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                try:
                    found = await loop.run_in_executor(self.pool, self.lookup, list({key for key, _ in batch}))
                except Exception as error:  # each request answers it (503), none waits for ever
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for key, future in batch:
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            self.running = False


class Connections:
    """One autocommit connection per pool thread, kept between queries (no check-out, ping
    or transaction round trips), each query's snapshot released at once (SQLite keeps one
    until its transaction ends); dropped after an error, so the next query reconnects."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.local = threading.local()

    def run(self, query: Callable[[Connection], T]) -> T:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = self.engine.connect()
        try:
            result = query(connection)
            connection.rollback()
            return result
        except Exception:
            self.local.connection = None
            connection.invalidate()
            connection.close()
            raise


class BodyCache:
    """Entries by token hash, each valid while its key (the ETag) is the stored one; at most
    `entries` of them and `size` bytes of bodies, the oldest dropped first."""

    def __init__(self, entries: int, size: int) -> None:
        self.entries, self.size = entries, size
        self.held: dict[str, Entry] = {}
        self.bytes = 0

    def get(self, key: str, etag: str) -> Entry | None:
        entry = self.held.get(key)
        return entry if entry is not None and entry.key == etag else None

    def put(self, key: str, entry: Entry) -> None:
        old = self.held.pop(key, None)
        self.bytes -= len(old.body) if old else 0
        while self.held and (len(self.held) >= self.entries or self.bytes + len(entry.body) > self.size):
            self.bytes -= len(self.held.pop(next(iter(self.held))).body)
        if len(entry.body) <= self.size:
            self.held[key] = entry
            self.bytes += len(entry.body)


class FeedDocuments:
    """GET and HEAD of /calendars/<token>.ics from the feed_documents table."""

    def __init__(
        self,
        engine: Engine,
        max_age: int = 300,
        cache_entries: int = 4096,
        cache_bytes: int = 128 * 2**20,
        threads: int = 4,
    ) -> None:
        self.cache_control = f"private, max-age={max_age}".encode()
        self.connections = Connections(engine)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feed-documents")
        self.validators: Batched[str, Validators] = Batched(self._validators, self.pool)
        self.cache = BodyCache(cache_entries, cache_bytes)
        self.loading: dict[str, asyncio.Future[Entry | None]] = {}
        self.failed_at = 0.0

    def _validators(self, hashes: Sequence[str]) -> dict[str, Validators]:
        return self.connections.run(partial(current_validators, hashes=hashes))

    async def __call__(self, scope, receive, send) -> None:
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await plain(send, 405, b"Method Not Allowed\n", [(b"allow", b"GET, HEAD")])
            return
        token = feed_token(scope)  # "" for any path not sent as /calendars/<token>.ics
        token = token if is_token(token) else NO_TOKEN
        key = token_hash(token)
        try:
            current = await self.validators.get(key)
            entry = None if current is None else await self._entry(token, key, current, scope["headers"], method)
        except Exception as error:
            self._unavailable(error)
            headers = [(b"retry-after", b"5"), (b"cache-control", b"no-store")]
            await plain(send, 503, b"Service Unavailable\n", headers, method == "HEAD")
            return
        if entry is None:
            await not_found(send, method)
        elif is_fresh(scope["headers"], entry):
            await not_modified(send, entry)
        else:
            await ok(send, entry, method)

    async def _entry(self, token: str, key: str, current: Validators, headers, method: str) -> Entry | None:
        """The cached entry when its ETag is current; else, for a 304 or a HEAD, one made
        from the validators alone; else the feed read from the database."""
        cached = self.cache.get(key, current.etag)
        if cached is not None:
            return cached
        bare = self._make(current, b"")
        if method == "HEAD" or is_fresh(headers, bare):
            return bare
        loading = self.loading.get(key)
        if loading is None:  # one read per feed, however many requests wait for it
            loading = self.loading[key] = asyncio.ensure_future(self._load(token, key))
            loading.add_done_callback(lambda _: self.loading.pop(key, None))
        return await asyncio.shield(loading)

    async def _load(self, token: str, key: str) -> Entry | None:
        loop = asyncio.get_running_loop()
        read = partial(current_document, token=token)
        document = await loop.run_in_executor(self.pool, self.connections.run, read)
        if document is None:  # rotated since its ETag was read
            return None
        entry = self._make(document.validators, document.body)
        self.cache.put(key, entry)
        return entry

    def _make(self, current: Validators, body: bytes) -> Entry:
        mtime = int(current.modified_at.timestamp())
        return make_entry(current.etag, body, current.size, current.etag.encode(), mtime, self.cache_control)

    def _unavailable(self, error: Exception) -> None:
        """Logs that the database cannot be read, at most once a minute (never a token)."""
        now = time.monotonic()
        if not self.failed_at or now - self.failed_at >= 60:
            self.failed_at = now
            log.error("feeds cannot be read from the database: %s", type(error).__name__)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def feed_route(settings: Settings, max_age: int = 300) -> FeedFiles | FeedDocuments:
    """The feed route for FEED_STORE: calendars/ (files) or the database."""
    if settings.feed_store == "database":
        # hide_parameters: a database error's text never carries a token's hash into a log
        return FeedDocuments(make_engine(settings.database_url, hide_parameters=True), max_age=max_age)
    return FeedFiles(settings.calendars_dir, max_age=max_age)
