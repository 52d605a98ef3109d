"""Feeds in the database (FEED_STORE=database): one feed_documents row per feed, found by
the SHA-256 of its token, so that web processes on any machine serve what a worker on
another wrote. The rules are those of the files: a feed is written only when its bytes
change; a rotated token's row is removed (and, until it is, never served: the web reads
a row only while its token is still the feed's). Last-Modified is when the bytes last
changed, by this process's clock, as a file's modification time is."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Insert, Table, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite

from changemgmt.feeds.feed_tokens import token_hash
from changemgmt.feeds.registry import FeedToken
from changemgmt.feeds.stores.base import Done, FeedStore, FeedWriter
from changemgmt.feeds.stores.masks import mask, token_spans, unmask
from changemgmt.store.bulk import among
from changemgmt.store.models import Feed, FeedDocument

DOCUMENTS: Table = FeedDocument.__table__
BATCH = 200  # feeds written per transaction
BATCH_BYTES = 32 * 2**20


def etag_of(data: bytes) -> str:
    """The strong ETag of these bytes; the file route computes the same from a file, so a
    feed keeps its ETag (and clients their 304s) when moved from one store to the other."""
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def wall_clock() -> datetime:
    return datetime.now(UTC)


class DatabaseStore(FeedStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = wall_clock) -> None:
        self.engine, self.clock = engine, clock

    def writer(self) -> FeedWriter:
        return _DocumentWriter(self.engine, self.clock)

    def read(self, feed: FeedToken) -> bytes | None:
        query = select(DOCUMENTS.c.token_at, DOCUMENTS.c.body).where(DOCUMENTS.c.token_hash == token_hash(feed.token))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else unmask(row.body, row.token_at, feed.token)

    def remove(self, token: str) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(delete(DOCUMENTS).where(DOCUMENTS.c.token_hash == token_hash(token)))
        return result.rowcount > 0

    def remove_unknown(self, known_hashes: Callable[[], set[str]]) -> int:
        """Asks the database itself, in one statement, which tokens are still feeds'."""
        owned = exists().where(Feed.token_hash == DOCUMENTS.c.token_hash)
        with self.engine.begin() as connection:
            return connection.execute(delete(DOCUMENTS).where(~owned)).rowcount


class _DocumentWriter(FeedWriter):
    """Writes feeds a batch at a time: one query for the batch's stored ETags, one upsert
    of the rows whose bytes changed, one commit."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine, self.clock = engine, clock
        self.pending: list[tuple[FeedToken, bytes, Done]] = []
        self.size = 0

    def submit(self, feed: FeedToken, data: bytes, done: Done) -> None:
        self.pending.append((feed, data, done))
        self.size += len(data)
        if len(self.pending) >= BATCH or self.size >= BATCH_BYTES:
            self._flush()

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        pending, self.pending, self.size = self.pending, [], 0
        if not pending:
            return
        now = self.clock()
        rows = {token_hash(feed.token): _row(feed, data, now) for feed, data, _ in pending}
        with self.engine.connect() as connection:
            connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with connection.begin():
                stored = dict(connection.execute(_stored_etags(list(rows))).all())
                changed = [row for key, row in rows.items() if stored.get(key) != row["etag"]]
                if changed:
                    connection.execute(_upsert(connection.dialect.name), changed)
        written = {row["token_hash"] for row in changed}
        for feed, _, done in pending:
            done(token_hash(feed.token) in written)


def _row(feed: FeedToken, data: bytes, now: datetime) -> dict:
    spans = token_spans(data, feed.token)
    return {
        "token_hash": token_hash(feed.token),
        "feed_id": feed.feed.id,
        "etag": etag_of(data),
        "modified_at": now,
        "size": len(data),
        "token_at": spans,
        "body": mask(data, spans),
    }


def _stored_etags(hashes: list[str]):
    return select(DOCUMENTS.c.token_hash, DOCUMENTS.c.etag).where(among(DOCUMENTS.c.token_hash, hashes))


def _upsert(dialect: str) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DOCUMENTS)
    columns = ("feed_id", "etag", "modified_at", "size", "token_at", "body")
    return statement.on_conflict_do_update(
        index_elements=["token_hash"], set_={name: statement.excluded[name] for name in columns}
    )


@dataclass(frozen=True)
class Validators:
    """What a conditional request and a HEAD need of a stored feed: never its bytes."""

    etag: str
    modified_at: datetime
    size: int


def current_validators(connection: Connection, hashes: Collection[str]) -> dict[str, Validators]:
    """The stored feeds among these token hashes whose token is still their feed's, by
    hash: one query over two unique indexes, reading no body."""
    query = (
        select(DOCUMENTS.c.token_hash, DOCUMENTS.c.etag, DOCUMENTS.c.modified_at, DOCUMENTS.c.size)
        .join(Feed, Feed.token_hash == DOCUMENTS.c.token_hash)
        .where(among(DOCUMENTS.c.token_hash, list(hashes)))
    )
    return {row.token_hash: Validators(row.etag, row.modified_at, row.size) for row in connection.execute(query)}


@dataclass(frozen=True)
class Document:
    validators: Validators
    body: bytes


def current_document(connection: Connection, token: str) -> Document | None:
    """The feed stored under `token`, its bytes as served (the token put back), while the
    token is still its feed's."""
    query = (
        select(DOCUMENTS.c.etag, DOCUMENTS.c.modified_at, DOCUMENTS.c.size, DOCUMENTS.c.token_at, DOCUMENTS.c.body)
        .join(Feed, Feed.token_hash == DOCUMENTS.c.token_hash)
        .where(DOCUMENTS.c.token_hash == token_hash(token))
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    return Document(Validators(row.etag, row.modified_at, row.size), unmask(row.body, row.token_at, token))
