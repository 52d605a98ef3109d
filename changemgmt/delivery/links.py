"""The calendar feed links every notice's footer carries (SPEC §4, §5): the customer's
feed, and for a contact of an enterprise above it, that enterprise's feed. Feeds are
created on first use, as `changemgmt feeds url` creates them, and marked for the clock to
write, so the link works by the time the mail is read."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.feeds.feed_tokens import SealError
from changemgmt.feeds.rebuilds import request_feed_rebuilds
from changemgmt.feeds.registry import Scope, ensure_feeds, feed_key, feed_url, webcal_url, with_token
from changemgmt.store.bulk import among
from changemgmt.store.chunks import chunks
from changemgmt.store.db import transaction
from changemgmt.store.models import Customer, Feed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedLink:
    """A feed's URLs: the https one we publish, and its webcal:// convenience form."""

    https: str
    webcal: str

    def as_dict(self) -> dict[str, str]:
        return {"https": self.https, "webcal": self.webcal}


@dataclass(frozen=True)
class EnterpriseFeed:
    name: str
    link: FeedLink


@dataclass(frozen=True)
class NoticeLinks:
    """The feed links of one notice: its customer's, and each enterprise's above it, by
    customer id (shown only to that enterprise's contacts)."""

    feed: FeedLink | None = None
    enterprises: Mapping[int, EnterpriseFeed] = field(default_factory=dict)


def _link(feed: Feed, settings: Settings) -> FeedLink | None:
    try:
        url = feed_url(settings, with_token(feed, settings).token)
    except SealError:
        log.warning("feed %s: its token does not open with this SECRET_KEY; its link is left out of mail", feed.key)
        return None
    return FeedLink(url, webcal_url(url))


def _keys(customer_ids: Collection[int], enterprise_ids: Collection[int]) -> list[str]:
    keys = [feed_key(Scope.CUSTOMER, c) for c in sorted(set(customer_ids))]
    return keys + [feed_key(Scope.ENTERPRISE, e) for e in sorted(set(enterprise_ids))]


def _links(session: Session, settings: Settings, keys: list[str]) -> dict[str, FeedLink]:
    found = {}
    for chunk in chunks(keys):
        for feed in session.scalars(select(Feed).where(Feed.key.in_(chunk))):
            link = _link(feed, settings)
            if link is not None:
                found[feed.key] = link
    return found


def feed_links(
    sessions: sessionmaker[Session],
    settings: Settings,
    customer_ids: Collection[int],
    enterprise_ids: Collection[int],
    now: datetime,
) -> dict[str, FeedLink]:
    """The links of these customers' feeds and these enterprises' feeds, by feed key.
    Those that do not exist yet are created in a transaction of their own, and marked for
    the clock to write (read first: mostly they all exist, and nothing is written)."""
    keys = _keys(customer_ids, enterprise_ids)
    with sessions() as session:
        existing = set(
            key for chunk in chunks(keys) for key in session.scalars(select(Feed.key).where(Feed.key.in_(chunk)))
        )
        if len(existing) == len(keys):
            return _links(session, settings, keys)
    with transaction(sessions) as session:
        if ensure_feeds(session, keys, settings, now):  # some are new: the clock writes them
            request_feed_rebuilds(session, customer_ids, now, enterprise_ids=enterprise_ids)
        return _links(session, settings, keys)


def notice_links(links: Mapping[str, FeedLink], customer_id: int, enterprise_names: Mapping[int, str]) -> NoticeLinks:
    """One notice's links out of `feed_links`' answer."""
    enterprises = {
        e: EnterpriseFeed(name, links[feed_key(Scope.ENTERPRISE, e)])
        for e, name in enterprise_names.items()
        if feed_key(Scope.ENTERPRISE, e) in links
    }
    return NoticeLinks(links.get(feed_key(Scope.CUSTOMER, customer_id)), enterprises)


def customer_names(session: Session, customer_ids: Collection[int]) -> dict[int, str]:
    if not customer_ids:
        return {}
    return dict(session.execute(select(Customer.id, Customer.name).where(among(Customer.id, list(customer_ids)))).all())
