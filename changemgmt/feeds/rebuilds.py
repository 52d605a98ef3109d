"""Recording which feeds must be rewritten, in the transaction of the GCR change that
makes them stale (DESIGN: the change records what must follow from it). The publisher
(`rebuild_dirty`) rewrites those files later and clears the requests."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from changemgmt.feeds.hierarchy import enterprise_ancestors, enterprises_among
from changemgmt.feeds.registry import INTERNAL_KEY, Scope, feed_key
from changemgmt.store.bulk import insert_rows
from changemgmt.store.models import FeedRebuild


def request_rebuilds(session: Session, gcr_id: int, customer_ids: Collection[int], now: datetime) -> None:
    """Marks the feeds of these customers, of their enterprises (a customer that is itself
    an enterprise shows its own events in its enterprise feed too), and the internal feed."""
    keys = [feed_key(Scope.CUSTOMER, cid) for cid in sorted(customer_ids)]
    enterprises = enterprise_ancestors(session, customer_ids) | enterprises_among(session, customer_ids)
    keys += [feed_key(Scope.ENTERPRISE, cid) for cid in sorted(enterprises)]
    keys.append(INTERNAL_KEY)
    insert_rows(
        session, FeedRebuild.__table__, [{"feed_key": key, "gcr_id": gcr_id, "requested_at": now} for key in keys]
    )
