"""Listing the inventory a page at a time, for the API: the export's rows (the same
columns, the same order: by key, byte by byte), filtered by columns, from just after
the key of the last row of the previous page (keyset pages: a row added or removed
meanwhile never shifts the next page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.orm import Session

from changemgmt.inventory.exporter import _QUERIES, COLUMNS, _as_is, _bytewise
from changemgmt.inventory.fields import check_kind_name

KEYS = {
    "locations": ("code",),
    "customers": ("account",),
    "contacts": ("account", "email"),
    "services": ("service_id",),
}
# Filters a page may take, by kind: each a column that must equal the value given;
# `location` matches either end of a service.
FILTERS = {
    "locations": ("code", "country", "region", "city", "time_zone"),
    "customers": ("account", "parent_account", "time_zone", "active"),
    "contacts": ("account", "email"),
    "services": ("service_id", "account", "product", "location"),
}

# The columns a search looks in (for words, in any case), by kind.
SEARCHED = {
    "locations": ("code", "name", "city"),
    "customers": ("account", "name"),
    "contacts": ("account", "email", "name"),
    "services": ("service_id", "account", "product"),
}


@dataclass(frozen=True)
class InventoryPage:
    rows: list[dict[str, Any]]
    last_key: tuple[str, ...] | None  # the key of the last row, when more rows follow


def list_inventory(
    session: Session,
    kind: str,
    filters: dict[str, Any],
    after: tuple[str, ...] | None,
    limit: int,
    search: str | None = None,
) -> InventoryPage:
    """Up to `limit` rows of `kind` matching `filters` (and holding `search` in one of its
    SEARCHED columns, in any case), after the row whose key is `after`."""
    kind = check_kind_name(kind)
    order = _bytewise if session.get_bind().dialect.name == "postgresql" else _as_is
    query = _QUERIES[kind](order)
    columns = dict(zip(COLUMNS[kind], query.selected_columns))
    for name, value in filters.items():
        if name == "location":
            query = query.where(or_(columns["a_end"] == value, columns["z_end"] == value))
        else:
            query = query.where(columns[name] == value)
    if search:
        words = search.lower()
        query = query.where(
            or_(*(func.lower(columns[name]).contains(words, autoescape=True) for name in SEARCHED[kind]))
        )
    if after is not None:
        query = query.where(_after([order(columns[name]) for name in KEYS[kind]], after))
    rows = [dict(zip(COLUMNS[kind], row)) for row in session.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return InventoryPage(rows, tuple(rows[-1][name] for name in KEYS[kind]) if more else None)


def _after(columns: list[ColumnElement], key: tuple[str, ...]) -> ColumnElement[bool]:
    """Rows whose key comes after `key`, in the key's order."""
    first, *rest = columns
    if not rest:
        return first > key[0]
    return or_(first > key[0], and_(first == key[0], _after(rest, key[1:])))
