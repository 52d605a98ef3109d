"""Which feeds exist, their tokens and URLs, and rotation (SPEC §5, STANDARDS F1-F4).

A feed's key names what it shows: `customer:<id>` (one account), `enterprise:<id>` (a
parent account with all its accounts) or `internal` (every GCR, for the provider's NOC).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.feeds.feed_tokens import SealError, new_token, seal, token_hash, unseal
from changemgmt.signing import secret_key
from changemgmt.store.bulk import among, insert_rows
from changemgmt.store.models import AuditEntry, Customer, Feed

INTERNAL_KEY = "internal"


class Scope(str, enum.Enum):
    CUSTOMER = "customer"
    ENTERPRISE = "enterprise"
    INTERNAL = "internal"


def feed_key(scope: Scope, customer_id: int | None = None) -> str:
    return INTERNAL_KEY if scope is Scope.INTERNAL else f"{scope.value}:{customer_id}"


def parse_key(key: str) -> tuple[Scope, int | None]:
    if key == INTERNAL_KEY:
        return Scope.INTERNAL, None
    scope, _, customer_id = key.partition(":")
    return Scope(scope), int(customer_id)


@dataclass(frozen=True)
class FeedToken:
    """A feed with its token in clear: held only in memory, to name the file."""

    feed: Feed
    token: str

    @property
    def scope(self) -> Scope:
        return Scope(self.feed.scope)

    @property
    def file_name(self) -> str:
        return f"{self.token}.ics"

    @property
    def customer_id(self) -> int:
        """The customer of an account or enterprise feed; the internal feed has none."""
        if self.feed.customer_id is None:
            raise ValueError(f"feed {self.feed.key} belongs to no customer")
        return self.feed.customer_id


def token_of(feed: Feed, settings: Settings) -> str:
    """The feed's token; SealError, naming the feed, when it does not open with this key."""
    try:
        return unseal(feed.token_sealed, secret_key(settings), feed.token_hash)
    except SealError:
        raise SealError(f"the token of feed {feed.key}") from None


def with_token(feed: Feed, settings: Settings) -> FeedToken:
    return FeedToken(feed, token_of(feed, settings))


def feed_url(settings: Settings, token: str) -> str:
    """The https URL we publish (STANDARDS A46)."""
    return calendar_url(settings.base_url, token)


def calendar_url(base_url: str, token: str) -> str:
    return f"{base_url}/calendars/{token}.ics"


def webcal_url(url: str) -> str:
    """The `webcal://` convenience form of a feed URL."""
    return "webcal://" + url.split("://", 1)[1]


def get_feed(session: Session, key: str) -> Feed | None:
    return session.scalar(select(Feed).where(Feed.key == key))


def feed_by_token(session: Session, token: str) -> Feed | None:
    """The feed a token opens, looked up by its hash (STANDARDS F4)."""
    return session.scalar(select(Feed).where(Feed.token_hash == token_hash(token)))


def ensure_feeds(session: Session, keys: list[str], settings: Settings, now: datetime) -> int:
    """Creates the feeds of `keys` that do not exist yet; returns how many it created.
    Safe against a concurrent creator: the key is unique and a clash is skipped."""
    existing = set(session.scalars(select(Feed.key).where(among(Feed.key, keys))))
    missing = [key for key in keys if key not in existing]
    if not missing:
        return 0
    key = secret_key(settings)
    values = []
    for name in missing:
        scope, customer_id = parse_key(name)
        token = new_token()
        values.append(
            {
                "key": name,
                "scope": scope.value,
                "customer_id": customer_id,
                "token_hash": token_hash(token),
                "token_sealed": seal(token, key),
                "created_at": now,
                "rotated_at": None,
            }
        )
    insert_rows(session, Feed.__table__, values, conflict=("key",))
    return len(values)


def ensure_feed(session: Session, key: str, settings: Settings, now: datetime) -> Feed:
    ensure_feeds(session, [key], settings, now)
    feed = get_feed(session, key)
    assert feed is not None
    return feed


def rotate(session: Session, feed: Feed, settings: Settings, now: datetime, actor: str) -> tuple[str | None, str]:
    """Gives the feed a new token; returns (old token, new token). The caller deletes the
    old file once this commits, and writes the new one. The old token is None when it does
    not open (SECRET_KEY changed): `feeds rebuild --all` then deletes its orphaned file."""
    try:
        old: str | None = token_of(feed, settings)
    except SealError:
        old = None
    token = new_token()
    feed.token_hash = token_hash(token)
    feed.token_sealed = seal(token, secret_key(settings))
    feed.rotated_at = now
    session.add(
        AuditEntry(
            at=now,
            actor=actor,
            entity="feed",
            entity_key=feed.key,
            action="rotate",
            details={"scope": feed.scope, "customer_id": feed.customer_id},
        )
    )
    session.flush()
    return old, token


def customer_by_account(session: Session, account: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.account == account))


def has_accounts(session: Session, customer_id: int) -> bool:
    """True when the customer is an enterprise: the parent of at least one account."""
    return session.scalar(select(Customer.id).where(Customer.parent_id == customer_id).limit(1)) is not None
