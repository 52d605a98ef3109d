"""Turns the keys a chunk of rows refers to (accounts, location codes) into row ids, with
at most one query per chunk and per referenced table (for the keys not met before), and
shapes the rows as the tables want them.

A customer's parent may come later in the same file: such links are set after the last
customer row (`finish_parents`), and only the still-pending ones are kept meanwhile.
"""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection

from changemgmt.inventory.errors import Collector
from changemgmt.inventory.sql import CUSTOMERS, KINDS_PARAM, LOCATIONS, ids_by, set_parents

Chunk = list[tuple[str, dict]]
BATCH = 1000
ID_CACHE_LIMIT = 10_000


class KnownIds:
    """Row ids by key, as found so far in this import: ids never change while it runs,
    so each key is looked up once. Forgets everything past `limit` keys, which keeps
    memory bounded whatever the size of the inventory."""

    def __init__(self, connection: Connection, column, limit: int) -> None:
        self.connection = connection
        self.column = column
        self.limit = limit
        self.known: dict[str, int] = {}

    def of(self, keys: set[str]) -> dict[str, int]:
        """A mapping that holds the id of each of `keys` that exists (and maybe more)."""
        if len(self.known) > self.limit:
            self.known.clear()
        missing = [key for key in keys if key not in self.known]
        if missing:
            self.known.update(ids_by(self.connection, self.column, missing))
        return self.known


class References:
    """Resolves references for one import. Keys of rows rejected for errors of their own
    are remembered, so rows that point at them are dropped without a second message."""

    def __init__(self, connection: Connection, errors: Collector) -> None:
        self.connection = connection
        self.errors = errors
        self.customers = KnownIds(connection, CUSTOMERS.c.account, ID_CACHE_LIMIT)
        self.locations = KnownIds(connection, LOCATIONS.c.code, ID_CACHE_LIMIT)
        self.rejected: dict[str, set[str]] = {"customers": set(), "locations": set()}
        self.pending_parents: dict[str, tuple[str, str]] = {}
        self.parents_named = False

    def reject(self, kind: str, key: object) -> None:
        if kind in self.rejected and isinstance(key, str):
            self.rejected[kind].add(key.strip())

    def rows_for(self, kind: str, chunk: Chunk) -> list[dict]:
        """The rows of `chunk` ready to write; rows with unknown references are left out
        (and reported)."""
        return getattr(self, f"_{kind}")(chunk)

    def _locations(self, chunk: Chunk) -> list[dict]:
        return [row for _, row in chunk]

    def _customers(self, chunk: Chunk) -> list[dict]:
        named = {row["parent_account"] for _, row in chunk if row["parent_account"]}
        self.parents_named = self.parents_named or bool(named)
        ids = self.customers.of(named)
        for where, row in chunk:
            parent = row.pop("parent_account")
            row["parent_id"] = ids.get(parent) if parent else None
            if parent and row["parent_id"] is None:
                self.pending_parents[row["account"]] = (where, parent)
            else:
                self.pending_parents.pop(row["account"], None)
        return [row for _, row in chunk]

    def _contacts(self, chunk: Chunk) -> list[dict]:
        customers = self.customers.of({row["account"] for _, row in chunk})
        rows = []
        for where, row in chunk:
            customer_id = customers.get(row["account"])
            if customer_id is None:
                self._missing(where, "account", row["account"])
                continue
            rows.append({
                "customer_id": customer_id,
                "email": row["email"],
                "name": row["name"],
                "role": row["role"],
                KINDS_PARAM: row["notice_kinds"],
                "min_impact": row["min_impact"],
                "reminders": row["reminders"],
            })
        return rows

    def _services(self, chunk: Chunk) -> list[dict]:
        customers = self.customers.of({row["account"] for _, row in chunk})
        codes = {row[end] for _, row in chunk for end in ("a_end", "z_end") if row[end]}
        locations = self.locations.of(codes)
        rows = []
        for where, row in chunk:
            customer_id = customers.get(row["account"])
            a_end, z_end = row["a_end"], row["z_end"]
            a_end_id, z_end_id = locations.get(a_end), locations.get(z_end)
            found = self._found(where, "account", row["account"], customer_id)
            found &= self._found(where, "a_end", a_end, a_end_id)
            found &= self._found(where, "z_end", z_end, z_end_id)
            if found:
                rows.append({
                    "service_id": row["service_id"],
                    "customer_id": customer_id,
                    "product": row["product"],
                    "bandwidth": row["bandwidth"],
                    "a_end_id": a_end_id,
                    "z_end_id": z_end_id,
                })
        return rows

    def _found(self, where: str, field: str, key: str | None, row_id: int | None) -> bool:
        if key is None or row_id is not None:
            return True
        self._missing(where, field, key)
        return False

    def _missing(self, where: str, field: str, key: str) -> None:
        kind = "locations" if field in ("a_end", "z_end") else "customers"
        if key in self.rejected[kind]:
            return
        if kind == "locations":
            self.errors.add(where, field, f"no location has code {key!r}")
        else:
            self.errors.add(where, field, f"no customer has account {key!r}")

    def finish_parents(self) -> None:
        """Links the customers whose parent came later in the file; reports the parents
        that never came."""
        for batch in _batches(list(self.pending_parents.items())):
            ids = self.customers.of({parent for _, (_, parent) in batch})
            links = []
            for child, (where, parent) in batch:
                if parent in ids:
                    links.append({"child": child, "parent_id": ids[parent]})
                else:
                    self._missing(where, "parent_account", parent)
            set_parents(self.connection, links)
        self.pending_parents.clear()


def _batches(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
