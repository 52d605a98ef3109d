"""Turns the keys a chunk of rows refers to (accounts, location codes) into row ids, with
at most one query per chunk and per referenced table (for the keys not met before), and
shapes the rows as the tables want them.

A customer's parent may come later in the same file: such links are set after the last
customer row (`finish_parents`), and only the still-pending ones are kept meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import Connection

from changemgmt.inventory.errors import Collector
from changemgmt.inventory.sql import CUSTOMERS, KINDS_PARAM, LOCATIONS, ids_by, set_parents

# A row checked by the importer: (position, row, good). A row that is not good has
# problems of its own and lacks the fields that were bad.
Entry = tuple[int, dict, bool]
Where = Callable[[str, int], str]
Chunk = list[Entry]
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


def _id(ids: dict[str, int], key: str | None) -> int | None:
    """The id of `key` among `ids`; None for a key unknown, or a row without it."""
    return ids.get(key) if key is not None else None


class References:
    """Resolves references for one import. Rows with problems of their own are looked up
    too, so that what they refer to is checked, but never written. Keys of rejected rows
    are remembered: rows that point at them are not told the key is unknown, since the
    rejected row's own problem is reported."""

    def __init__(self, connection: Connection, errors: Collector, where: Where) -> None:
        self.connection = connection
        self.errors = errors
        self.where = where  # (kind, position) -> "line 12", to name rows in messages
        self.customers = KnownIds(connection, CUSTOMERS.c.account, ID_CACHE_LIMIT)
        self.locations = KnownIds(connection, LOCATIONS.c.code, ID_CACHE_LIMIT)
        self.rejected: dict[str, set[str]] = {"customers": set(), "locations": set()}
        # (child account, or None for a rejected row; its position; parent account)
        self.pending_parents: list[tuple[str | None, int, str]] = []
        self.parents_named = False

    def reject(self, kind: str, key: object) -> None:
        if kind in self.rejected and isinstance(key, str):
            self.rejected[kind].add(key.strip())

    def rows_for(self, kind: str, chunk: Chunk) -> list[dict]:
        """The good rows of `chunk` whose references all exist, shaped for the table;
        every unknown reference is reported."""
        return getattr(self, f"_{kind}")(chunk)

    def _locations(self, chunk: Chunk) -> list[dict]:
        return [row for _, row, good in chunk if good]

    def _customers(self, chunk: Chunk) -> list[dict]:
        named = {row["parent_account"] for _, row, _ in chunk if row.get("parent_account")}
        self.parents_named = self.parents_named or bool(named)
        ids = self.customers.of(named)
        rows = []
        for position, row, good in chunk:
            parent = row.pop("parent_account", None)
            parent_id = ids.get(parent) if parent else None
            if parent and parent_id is None:
                self.pending_parents.append((row["account"] if good else None, position, parent))
            if good:
                row["parent_id"] = parent_id
                rows.append(row)
        return rows

    def _contacts(self, chunk: Chunk) -> list[dict]:
        customers = self.customers.of({row["account"] for _, row, _ in chunk if "account" in row})
        rows = []
        for position, row, good in chunk:
            customer_id = _id(customers, row.get("account"))
            if not self._found(("contacts", position), "account", row.get("account"), customer_id) or not good:
                continue
            rows.append(
                {
                    "customer_id": customer_id,
                    "email": row["email"],
                    "name": row["name"],
                    "role": row["role"],
                    KINDS_PARAM: row["notice_kinds"],
                    "min_impact": row["min_impact"],
                    "reminders": row["reminders"],
                }
            )
        return rows

    def _services(self, chunk: Chunk) -> list[dict]:
        customers = self.customers.of({row["account"] for _, row, _ in chunk if "account" in row})
        locations = self.locations.of(
            {row[end] for _, row, _ in chunk for end in ("a_end", "z_end") if row.get(end) is not None}
        )
        rows = []
        for position, row, good in chunk:
            customer_id = _id(customers, row.get("account"))
            a_end, z_end = row.get("a_end"), row.get("z_end")
            a_end_id, z_end_id = _id(locations, a_end), _id(locations, z_end)
            row_at = ("services", position)
            found = self._found(row_at, "account", row.get("account"), customer_id)
            found &= self._found(row_at, "a_end", a_end, a_end_id)
            found &= self._found(row_at, "z_end", z_end, z_end_id)
            if found and good:
                rows.append(
                    {
                        "service_id": row["service_id"],
                        "customer_id": customer_id,
                        "product": row["product"],
                        "bandwidth": row["bandwidth"],
                        "a_end_id": a_end_id,
                        "z_end_id": z_end_id,
                    }
                )
        return rows

    def _found(self, row_at: tuple[str, int], field: str, key: str | None, row_id: int | None) -> bool:
        """Whether the reference `key` (None: none, or a bad cell) is known; reports it if not."""
        if key is None or row_id is not None:
            return True
        self._missing(row_at, field, key)
        return False

    def _missing(self, row_at: tuple[str, int], field: str, key: str) -> None:
        """Reports the unknown `key` in the row at (kind, position), unless a row of the
        file had that key and was rejected for problems of its own, reported."""
        kind = "locations" if field in ("a_end", "z_end") else "customers"
        if key in self.rejected[kind]:
            return
        if kind == "locations":
            self.errors.add(self.where(*row_at), field, f"no location has code {key!r}")
        else:
            self.errors.add(self.where(*row_at), field, f"no customer has account {key!r}")

    def finish_parents(self) -> None:
        """Links the customers whose parent came later in the file; reports the parents
        that never came."""
        for batch in _batches(self.pending_parents):
            ids = self.customers.of({parent for _, _, parent in batch})
            links = []
            for child, position, parent in batch:
                if parent not in ids:
                    self._missing(("customers", position), "parent_account", parent)
                elif child is not None:
                    links.append({"child": child, "parent_id": ids[parent]})
            set_parents(self.connection, links)
        self.pending_parents.clear()


def _batches(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
