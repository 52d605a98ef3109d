"""Writing feeds: the ones GCR changes asked for (`rebuild_dirty`), or all of them
(`rebuild_all`), to the store FEED_STORE names (files in calendars/, or the database). A
feed is rewritten only when its bytes change, atomically. Retention depends on `now`,
which callers pass in (STYLE 3)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.domain.retention import retention_cutoff
from changemgmt.feeds.blocks import Block, assemble, internal_gcr_number, keeps, split_feed
from changemgmt.feeds.customer import States, customer_blocks
from changemgmt.feeds.feed_tokens import SealError
from changemgmt.feeds.headers import header_bytes
from changemgmt.feeds.hierarchy import enterprises, members
from changemgmt.feeds.internal import internal_blocks, published_gcr_ids
from changemgmt.feeds.registry import INTERNAL_KEY, FeedToken, Scope, ensure_feeds, feed_key, with_token
from changemgmt.feeds.stores import FeedStore, FeedWriter, store_of
from changemgmt.store.chunks import chunks
from changemgmt.store.db import transaction
from changemgmt.store.models import Customer, Feed, FeedRebuild, Gcr

log = logging.getLogger(__name__)

BATCH = 500  # account feeds built together (their events are loaded in a few queries)
MAX_REQUESTS = 50_000  # rebuild requests taken per round


@dataclass
class Written:
    """What a rebuild did: feeds written per scope, feeds left as they were."""

    customer: int = 0
    enterprise: int = 0
    internal: int = 0
    unchanged: int = 0
    removed: int = 0  # feeds stored under rotated or unknown tokens deleted
    unreadable: list[str] = field(default_factory=list)  # feeds whose token SECRET_KEY cannot open
    failed: list[str] = field(default_factory=list)  # feeds that could not be built: asked for again later
    stored: list[tuple[int, str, str]] = field(default_factory=list, repr=False)  # feed id, token hash, token

    @property
    def total(self) -> int:
        return self.customer + self.enterprise + self.internal

    def add(self, feed: FeedToken, changed: bool) -> None:
        if not changed:
            self.unchanged += 1
            return
        scope = feed.scope.value
        setattr(self, scope, getattr(self, scope) + 1)
        self.stored.append((feed.feed.id, feed.feed.token_hash, feed.token))


def publish(
    session: Session,
    settings: Settings,
    now: datetime,
    feeds: list[FeedToken],
    changed_gcrs: set[int] | None = None,
    store: FeedStore | None = None,
) -> Written:
    """Writes these feeds to `store` (default: the configured one). The internal feed is
    updated for `changed_gcrs` only, reusing its other events from its stored bytes, when
    given; else built whole."""
    written = Written()
    store = store or store_of(settings, session)
    accounts = [f for f in feeds if f.scope is not Scope.INTERNAL]
    states = States(session)
    with store.writer() as writer:
        for start in range(0, len(accounts), BATCH):
            _publish_accounts(session, settings, now, accounts[start : start + BATCH], states, writer, written)
        for feed in feeds:
            if feed.scope is Scope.INTERNAL:
                events = _internal_events(session, settings, now, feed, changed_gcrs, store)
                _submit(writer, feed, assemble(header_bytes(feed, None, settings), events), written)
    return written


def _submit(writer: FeedWriter, feed: FeedToken, data: bytes, written: Written) -> None:
    writer.submit(feed, data, lambda changed: written.add(feed, changed))


def _publish_accounts(
    session: Session,
    settings: Settings,
    now: datetime,
    feeds: list[FeedToken],
    states: States,
    writer: FeedWriter,
    written: Written,
) -> None:
    ids = {f.customer_id for f in feeds}
    groups = members(session, [f.customer_id for f in feeds if f.scope is Scope.ENTERPRISE])
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
    blocks = customer_blocks(session, ids.union(*groups.values()), settings, now, states)
    for feed in feeds:
        customer = customers[feed.customer_id]
        shown = groups[customer.id] if feed.scope is Scope.ENTERPRISE else {customer.id}
        events = [b for cid in shown for b in blocks[cid]] if customer.active else []
        _submit(writer, feed, assemble(header_bytes(feed, customer, settings), events), written)


def _internal_events(
    session: Session,
    settings: Settings,
    now: datetime,
    feed: FeedToken,
    changed_gcrs: set[int] | None,
    store: FeedStore,
) -> list[Block]:
    old = store.read(feed) if changed_gcrs is not None else None
    try:
        kept_blocks = split_feed(old) if old is not None else None
    except ValueError:  # damaged bytes (an older version wrote them, say): build it whole
        kept_blocks = None
    if changed_gcrs is None or kept_blocks is None:  # (kept_blocks is None without changed_gcrs)
        built = internal_blocks(session, published_gcr_ids(session), settings, now)
        return [b for blocks in built.values() for b in blocks]
    numbers = {
        number
        for chunk in chunks(changed_gcrs)
        for number in session.scalars(select(Gcr.number).where(Gcr.id.in_(chunk)))
    }
    cutoff = retention_cutoff(now, settings.feed_retention_days)
    others = [b for b in kept_blocks if internal_gcr_number(b.uid) not in numbers and keeps(b, cutoff)]
    built = internal_blocks(session, changed_gcrs, settings, now)
    return others + [b for blocks in built.values() for b in blocks]


def tokens_of(feeds: list[Feed], settings: Settings, written: Written) -> list[FeedToken]:
    """The feeds with their tokens; one whose token does not open (SECRET_KEY changed)
    is left out and named in `written.unreadable`, so it cannot stop the others."""
    opened = []
    for feed in feeds:
        try:
            opened.append(with_token(feed, settings))
        except SealError:
            written.unreadable.append(feed.key)
    return opened


def rebuild_dirty(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> Written:
    """Rewrites the feeds that GCR changes asked for, then clears those requests. A feed
    that cannot be built fails alone: the others are written, and its requests are kept,
    so the next round tries it again (`Written.failed` names it)."""
    total = Written()
    store = store_of(settings, sessions)
    while True:
        with sessions() as session:
            requests = session.execute(
                select(FeedRebuild.id, FeedRebuild.feed_key, FeedRebuild.gcr_id)
                .order_by(FeedRebuild.id)
                .limit(MAX_REQUESTS)
            ).all()
            if not requests:
                return total
            keys = sorted({r.feed_key for r in requests})
            rows = [feed for chunk in chunks(keys) for feed in session.scalars(select(Feed).where(Feed.key.in_(chunk)))]
            feeds = tokens_of(rows, settings, total)
            internal = [r.gcr_id for r in requests if r.feed_key == INTERNAL_KEY]
            changed = None if None in internal else set(internal)
            written = _publish_isolated(session, settings, now, feeds, changed, store)
        _merge(total, written)
        total.removed += drop_rotated(sessions, settings, written, store)
        failed = set(written.failed)
        _clear(sessions, [r.id for r in requests if r.feed_key not in failed])
        if failed or len(requests) < MAX_REQUESTS:
            return total


def _publish_isolated(
    session: Session,
    settings: Settings,
    now: datetime,
    feeds: list[FeedToken],
    changed: set[int] | None,
    store: FeedStore,
) -> Written:
    """`publish`, each feed failing alone: when the feeds cannot be built together, each
    is built by itself, and those that fail are named in `failed`. A database error is no
    feed's fault: it is raised."""
    try:
        return publish(session, settings, now, feeds, changed, store)
    except SQLAlchemyError:
        raise
    except Exception:  # noqa: BLE001 - one feed's data must not stop the others: find which
        log.warning("rebuilding %s feeds together failed: rebuilding them one by one", len(feeds))
    written = Written()
    for feed in feeds:
        try:
            alone = publish(session, settings, now, [feed], changed, store)
            _merge(written, alone)
            written.stored += alone.stored
        except SQLAlchemyError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.exception(
                "feed %s could not be rebuilt (tried again next round): %s",
                feed.feed.key,
                exc,
                extra={"event": "feed_rebuild_failed", "feed": feed.feed.key},
            )
            written.failed.append(feed.feed.key)
    return written


def rebuild_all(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> Written:
    """Creates any missing feed (every customer, every enterprise, the internal one),
    rewrites every feed whose bytes changed, deletes stored feeds no feed's token names,
    and clears the requests it has covered."""
    store = store_of(settings, sessions)
    with transaction(sessions) as session:
        customers = list(session.scalars(select(Customer.id).order_by(Customer.id)))
        keys = [feed_key(Scope.CUSTOMER, cid) for cid in customers]
        keys += [feed_key(Scope.ENTERPRISE, cid) for cid in enterprises(session)] + [INTERNAL_KEY]
        ensure_feeds(session, keys, settings, now)
    with sessions() as session:
        covered = list(session.scalars(select(FeedRebuild.id)))
        unreadable = Written()
        feeds = by_tree(session, tokens_of(list(session.scalars(select(Feed).order_by(Feed.id))), settings, unreadable))
        written = publish(session, settings, now, feeds, store=store)
        written.unreadable = unreadable.unreadable
    written.removed += drop_rotated(sessions, settings, written, store)
    written.removed += store.remove_unknown(lambda: _token_hashes(sessions))
    _clear(sessions, covered)
    return written


def by_tree(session: Session, feeds: list[FeedToken]) -> list[FeedToken]:
    """The feeds ordered so that an enterprise's feed is built in the same batch as most
    of its accounts' feeds, whose events it then reuses instead of building them again."""
    parents = dict(session.execute(select(Customer.id, Customer.parent_id)).all())

    def root(customer_id: int | None) -> int:
        seen = set()
        while customer_id is not None and parents.get(customer_id) is not None and customer_id not in seen:
            seen.add(customer_id)
            customer_id = parents[customer_id]
        return customer_id or 0

    return sorted(feeds, key=lambda f: (root(f.feed.customer_id), f.feed.id))


def drop_rotated(
    sessions: sessionmaker[Session], settings: Settings, written: Written, store: FeedStore | None = None
) -> int:
    """Deletes feeds just written under a token rotated meanwhile, so an old URL stays
    dead however a rebuild and a rotation interleave."""
    store = store or store_of(settings, sessions)
    removed = 0
    for chunk in chunks(written.stored, 1000):
        with sessions() as session:
            current = dict(
                session.execute(
                    select(Feed.id, Feed.token_hash).where(Feed.id.in_([feed_id for feed_id, _, _ in chunk]))
                ).all()
            )
        for feed_id, written_hash, token in chunk:
            if current.get(feed_id) != written_hash:
                removed += store.remove(token)
    return removed


def _token_hashes(sessions: sessionmaker[Session]) -> set[str]:
    """Every feed's current token hash: what is stored under any other is left over (from
    a crash mid-rotation, say) and removed."""
    with sessions() as session:
        return set(session.scalars(select(Feed.token_hash)))


def _clear(sessions: sessionmaker[Session], ids: list[int]) -> None:
    for chunk in chunks(ids, 1000):
        with sessions.begin() as session:
            session.execute(delete(FeedRebuild).where(FeedRebuild.id.in_(chunk)))


def _merge(total: Written, written: Written) -> None:
    for name in ("customer", "enterprise", "internal", "unchanged", "removed"):
        setattr(total, name, getattr(total, name) + getattr(written, name))
    total.failed += written.failed
