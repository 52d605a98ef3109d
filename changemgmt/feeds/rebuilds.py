"""Recording which feeds must be rewritten, in the transaction of the change that makes
them stale (DESIGN: the change records what must follow from it): a GCR change, or an
inventory import that changes what feeds show. The publisher (`rebuild_dirty`) rewrites
those feeds later and clears the requests."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from changemgmt.feeds.hierarchy import enterprise_ancestors, enterprises_among
from changemgmt.feeds.registry import INTERNAL_KEY, Scope, feed_key
from changemgmt.store.bulk import insert_rows
from changemgmt.store.models import FeedRebuild


def request_rebuilds(session: Session, gcr_id: int, customer_ids: Collection[int], now: datetime) -> None:
    """Marks the feeds of these customers, of their enterprises (a customer that is itself
    an enterprise shows its own events in its enterprise feed too), and the internal feed."""
    keys = _account_keys(session, customer_ids, ())
    _insert(session, [(key, gcr_id) for key in [*keys, INTERNAL_KEY]], now)


def request_feed_rebuilds(
    session: Session,
    customer_ids: Collection[int],
    now: datetime,
    *,
    enterprise_ids: Collection[int] = (),
    internal_gcr_ids: Collection[int] = (),
) -> int:
    """For changes to customers rather than to a GCR: marks these customers' feeds and
    their enterprises' to be rebuilt whole (no GCR named), the enterprise feeds of
    `enterprise_ids` and theirs (an enterprise a customer just left), and the internal
    feed for each GCR of `internal_gcr_ids`. Returns how many requests it recorded."""
    keys = _account_keys(session, customer_ids, enterprise_ids)
    requests = [(key, None) for key in keys] + [(INTERNAL_KEY, gcr_id) for gcr_id in sorted(internal_gcr_ids)]
    _insert(session, requests, now)
    return len(requests)


def _account_keys(session: Session, customer_ids: Collection[int], enterprise_ids: Collection[int]) -> list[str]:
    customers, left = set(customer_ids), set(enterprise_ids)
    enterprises = enterprise_ancestors(session, customers | left) | enterprises_among(session, customers) | left
    keys = [feed_key(Scope.CUSTOMER, cid) for cid in sorted(customers)]
    return keys + [feed_key(Scope.ENTERPRISE, cid) for cid in sorted(enterprises)]


def _insert(session: Session, requests: Sequence[tuple[str, int | None]], now: datetime) -> None:
    rows = [{"feed_key": key, "gcr_id": gcr_id, "requested_at": now} for key, gcr_id in requests]
    insert_rows(session, FeedRebuild.__table__, rows)
