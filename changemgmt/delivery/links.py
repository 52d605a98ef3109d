"""The calendar feed links every notice's footer carries (SPEC §4, §5): the customer's
feed, and for a contact of an enterprise above it, that enterprise's feed. Feeds are
created on first use, as `changemgmt feeds url` creates them, and marked for the clock to
write, so the link works by the time the mail is read."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.feeds.feed_tokens import SealError, unseal
from changemgmt.feeds.rebuilds import request_feed_rebuilds
from changemgmt.feeds.registry import Scope, calendar_url, ensure_feeds, feed_key, webcal_url
from changemgmt.signing import secret_key
from changemgmt.store.bulk import among
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


class _FeedRow(NamedTuple):
    key: str
    token_sealed: str
    token_hash: str


def _link(row: _FeedRow, key: bytes, base_url: str) -> FeedLink | None:
    try:
        url = calendar_url(base_url, unseal(row.token_sealed, key, row.token_hash))
    except SealError:
        log.warning("feed %s: its token does not open with this SECRET_KEY; its link is left out of mail", row.key)
        return None
    return FeedLink(url, webcal_url(url))


def _keys(customer_ids: Collection[int], enterprise_ids: Collection[int]) -> list[str]:
    keys = [feed_key(Scope.CUSTOMER, c) for c in sorted(set(customer_ids))]
    return keys + [feed_key(Scope.ENTERPRISE, e) for e in sorted(set(enterprise_ids))]


def _rows(session: Session, keys: list[str]) -> dict[str, _FeedRow]:
    return {
        row.key: _FeedRow(*row)
        for row in session.execute(select(Feed.key, Feed.token_sealed, Feed.token_hash).where(among(Feed.key, keys)))
    }


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
        rows = _rows(session, keys)
    missing = [key for key in keys if key not in rows]
    if missing:
        with transaction(sessions) as session:
            if ensure_feeds(session, missing, settings, now):  # some are new: the clock writes them
                request_feed_rebuilds(session, customer_ids, now, enterprise_ids=enterprise_ids)
            rows |= _rows(session, missing)
    key, base_url = secret_key(settings), settings.base_url
    return {name: link for name, row in rows.items() if (link := _link(row, key, base_url)) is not None}


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
