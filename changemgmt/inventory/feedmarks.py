"""Which feeds an import makes stale, marked for rebuilding in the import's transaction
(feeds.rebuilds.request_feed_rebuilds), so a renamed customer's feed follows without a
GCR change and without `feeds rebuild --all`.

Each chunk of customers, services or locations is compared with what the database held
before it is written (one query per chunk, `sql.shown_before`), on what feeds show
(`sql.SHOWN`):
- a customer's name (its feeds' NAME, the internal feed's service lines), time zone
  (its events' local times), `active` (an inactive customer's feed is empty and it leaves
  its enterprise's) and parent (the enterprise feeds it leaves and joins);
- a service's owner (both customers), product, bandwidth and ends;
- a location's city and region (the place a service line names with its code).
A new row changes no feed (a GCR can impact only services that exist), and a row written
again as it was marks nothing, so re-importing a file costs no rebuild. Contacts are in
no feed. The customers' feeds are rebuilt whole, with their enterprises'; the internal
feed only for the GCRs that impact a changed service or a renamed customer's.
"""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter

from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import Session

from changemgmt.feeds.rebuilds import request_feed_rebuilds
from changemgmt.inventory.sql import CONFLICT_KEYS, SERVICES, SHOWN, shown_before
from changemgmt.store.bulk import among
from changemgmt.store.chunks import chunks
from changemgmt.store.models import Impact, Service


class FeedMarks:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.customers: set[int] = set()  # whose feeds show something that changed
        self.left: set[int] = set()  # enterprises a customer left
        self.renamed: set[int] = set()  # customers named in the internal feed's service lines
        self.services: set[int] = set()  # services whose line changed
        self.locations: set[int] = set()  # locations whose place changed
        self.existing = 1  # rows the kind being imported had before: with none, all are new

    def note(self, kind: str, rows: list[dict]) -> None:
        """Compares these rows, shaped for their table, with the stored ones. A customer
        whose parent comes later in the file has no parent_id yet: its parent is new, so
        no feed of it exists, and the customer is marked only if it left another."""
        if kind not in SHOWN or not self.existing:  # a file's keys are unique: no row meets itself
            return
        key, shown = CONFLICT_KEYS[kind][0], itemgetter(*SHOWN[kind])
        before = shown_before(self.connection, kind, [row[key] for row in rows])
        for row in rows:
            old = before.get(row[key])
            if old is not None and shown(row) != old[2:]:
                getattr(self, f"_{kind}")(row, old)

    def _customers(self, row: dict, old) -> None:
        self.customers.add(old.id)
        if row["name"] != old.name:
            self.renamed.add(old.id)
        if row["parent_id"] != old.parent_id and old.parent_id is not None:
            self.left.add(old.parent_id)

    def _services(self, row: dict, old) -> None:
        self.customers.update((old.customer_id, row["customer_id"]))
        self.services.add(old.id)

    def _locations(self, row: dict, old) -> None:
        self.locations.add(old.id)

    def request(self, session: Session, now: datetime) -> int:
        """Records the rebuilds, in the session's (the import's) transaction, once every
        row is written; returns how many requests it recorded."""
        customers, services = set(self.customers), set(self.services)
        for chunk in chunks(self.locations):
            at = or_(among(Service.a_end_id, chunk), among(Service.z_end_id, chunk))
            for service, customer in session.execute(select(Service.id, Service.customer_id).where(at)):
                services.add(service)
                customers.add(customer)
        if not (customers or self.left):
            return 0
        return request_feed_rebuilds(
            session, customers, now, enterprise_ids=self.left, internal_gcr_ids=self._gcrs(session, services)
        )

    def _gcrs(self, session: Session, services: set[int]) -> set[int]:
        """The GCRs that impact these services or a renamed customer's."""
        found = {
            gcr for chunk in chunks(services) for gcr in session.scalars(_impacting(among(Impact.service_pk, chunk)))
        }
        for chunk in chunks(self.renamed):
            owned = select(SERVICES.c.id).where(among(SERVICES.c.customer_id, chunk))
            found.update(session.scalars(_impacting(Impact.service_pk.in_(owned))))
        return found


def _impacting(condition):
    return select(Impact.gcr_id).where(condition).distinct()
