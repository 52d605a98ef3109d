"""The calendar-level properties of each feed: a stable UID, its name (NAME and
X-WR-CALNAME), REFRESH-INTERVAL and X-PUBLISHED-TTL, and SOURCE, its https URL
(STANDARDS A31-A37). No METHOD: a feed is a snapshot (A38)."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar

from changemgmt.config import Settings
from changemgmt.content.ical import feed_calendar, feed_calendar_bytes
from changemgmt.feeds.registry import FeedToken, Scope, feed_url
from changemgmt.store.models import Customer

# A hint to clients; Google and Outlook.com refresh on their own schedules (STANDARDS A49).
REFRESH = timedelta(hours=1)


def feed_name(scope: Scope, customer: Customer | None, settings: Settings) -> str:
    if scope is Scope.INTERNAL or customer is None:
        return f"{settings.provider_name} maintenance: all GCRs (internal)"
    if scope is Scope.ENTERPRISE:
        return f"{settings.provider_name} maintenance: {customer.name} ({customer.account}) and its accounts"
    return f"{settings.provider_name} maintenance: {customer.name} ({customer.account})"


def calendar_uid(scope: Scope, customer: Customer | None, settings: Settings) -> str:
    """Stable for ever, whatever the token (it survives rotation)."""
    if scope is Scope.INTERNAL or customer is None:
        return f"feed-internal@{settings.provider_domain}"
    return f"feed-{scope.value}-{customer.account}@{settings.provider_domain}"


def header(feed: FeedToken, customer: Customer | None, settings: Settings) -> Calendar:
    """The feed's calendar without events."""
    return feed_calendar(
        [],
        uid=calendar_uid(feed.scope, customer, settings),
        name=feed_name(feed.scope, customer, settings),
        refresh=REFRESH,
        source=feed_url(settings, feed.token),
    )


def header_bytes(feed: FeedToken, customer: Customer | None, settings: Settings) -> bytes:
    """The serialized `header(...)`: what assemble() puts around a feed's events."""
    return feed_calendar_bytes(
        uid=calendar_uid(feed.scope, customer, settings),
        name=feed_name(feed.scope, customer, settings),
        refresh=REFRESH,
        source=feed_url(settings, feed.token),
    )
