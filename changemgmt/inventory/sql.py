"""The statements an import runs, in SQLAlchemy Core, for SQLite and PostgreSQL (where
the two differ, the reason is noted)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Insert,
    Select,
    String,
    Table,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row

from changemgmt.store.models import Contact, Customer, Location, Service

CUSTOMERS: Table = Customer.__table__
CONTACTS: Table = Contact.__table__
LOCATIONS: Table = Location.__table__
SERVICES: Table = Service.__table__
TABLES = {"customers": CUSTOMERS, "contacts": CONTACTS, "locations": LOCATIONS, "services": SERVICES}
CONFLICT_KEYS = {
    "customers": ("account",),
    "contacts": ("customer_id", "email"),
    "locations": ("code",),
    "services": ("service_id",),
}
# The columns an import sets. A contact's unsubscribed_at and suppressed_at are left
# alone, so that re-importing a contact list never re-subscribes anyone.
WRITTEN = {
    "customers": ("account", "name", "parent_id", "time_zone", "active", "lead_name", "lead_email", "lead_phone"),
    "contacts": ("customer_id", "email", "name", "role", "notice_kinds", "min_impact", "reminders"),
    "locations": ("code", "name", "address", "city", "region", "country", "time_zone"),
    "services": ("service_id", "customer_id", "product", "bandwidth", "a_end_id", "z_end_id"),
}
# A bound parameter that stores None as SQL NULL rather than the JSON text 'null'.
KINDS_PARAM = "notice_kinds_json"


@lru_cache(maxsize=16)
def upsert_statement(dialect: str, kind: str) -> Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE for one kind, to run executemany style."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = TABLES[kind]
    statement = insert(table)
    if kind == "contacts":
        statement = statement.values(notice_kinds=bindparam(KINDS_PARAM, type_=JSON(none_as_null=True)))
    keys = CONFLICT_KEYS[kind]
    changed = {name: statement.excluded[name] for name in WRITTEN[kind] if name not in keys}
    statement = statement.on_conflict_do_update(index_elements=list(keys), set_=changed)
    # With RETURNING, SQLAlchemy sends SQLite many rows per INSERT ("insertmanyvalues"),
    # which is faster there; psycopg's pipelined executemany is faster on PostgreSQL.
    return statement.returning(table.c.id) if dialect == "sqlite" else statement


def upsert(connection: Connection, kind: str, rows: list[dict]) -> None:
    if rows:
        connection.execute(upsert_statement(connection.dialect.name, kind), rows)


def ids_by(connection: Connection, column: Column, keys: Iterable[str]) -> dict[str, int]:
    """Maps each of `keys` that exists to its row id (one query)."""
    keys = list(keys)
    if not keys:
        return {}
    dialect = connection.dialect.name
    values = keys if dialect == "postgresql" else json.dumps(keys)
    return dict(connection.execute(_lookup(dialect, column), {"keys": values}).all())


@lru_cache(maxsize=16)
def _lookup(dialect: str, column: Column) -> Select:
    # One parameter holds every key (an array; JSON on SQLite), rather than an IN list of
    # thousands of parameters: one SQL text, prepared once, and two to three times faster.
    if dialect == "postgresql":
        wanted = column == any_(bindparam("keys", type_=ARRAY(String)))
    else:
        wanted = column.in_(select(literal_column("value")).select_from(func.json_each(bindparam("keys"))))
    return select(column, column.table.c.id).where(wanted)


# What feeds show of each kind (SPEC §5): the columns an import compares before writing.
SHOWN = {
    "customers": ("name", "time_zone", "active", "parent_id"),
    "services": ("customer_id", "product", "bandwidth", "a_end_id", "z_end_id"),
    "locations": ("city", "region"),  # a place is its code, city and region (content.lines)
}


def shown_before(connection: Connection, kind: str, keys: list[str]) -> dict[str, Row]:
    """The id and SHOWN columns of the existing rows among `keys`, by key: one query."""
    if not keys:
        return {}
    statement = _shown(connection.dialect.name, kind)
    return {row[0]: row for row in connection.execute(statement, {"keys": json.dumps(keys)}).all()}


@lru_cache(maxsize=16)
def _shown(dialect: str, kind: str) -> Select:
    # The keys as one JSON parameter on both databases: on PostgreSQL a text array is
    # built by the driver in Python, key by key, JSON in C (a third faster here).
    table = TABLES[kind]
    key = table.c[CONFLICT_KEYS[kind][0]]
    query = select(key, table.c.id, *(table.c[name] for name in SHOWN[kind]))
    if dialect == "postgresql":
        keys = func.json_array_elements_text(cast(bindparam("keys"), JSON)).table_valued("value")
    else:
        keys = func.json_each(bindparam("keys")).table_valued("value")
    return query.where(key.in_(select(keys.c.value)))


def count(connection: Connection, kind: str) -> int:
    return connection.execute(select(func.count()).select_from(TABLES[kind])).scalar_one()


def set_parents(connection: Connection, links: list[dict]) -> None:
    """Sets parent_id for each {"child": account, "parent_id": id}."""
    if links:
        statement = (
            update(CUSTOMERS).where(CUSTOMERS.c.account == bindparam("child")).values(parent_id=bindparam("parent_id"))
        )
        connection.execute(statement, links)


# Walks up from every customer with a parent; a walk that comes back to its start is a
# cycle. Depth is bounded so that a walk into a cycle it is not part of ends too.
_CYCLES = text(
    """
    WITH RECURSIVE walk(start_id, node_id, depth) AS (
        SELECT id, parent_id, 1 FROM customers WHERE parent_id IS NOT NULL
        UNION ALL
        SELECT walk.start_id, customers.parent_id, walk.depth + 1
        FROM walk JOIN customers ON customers.id = walk.node_id
        WHERE customers.parent_id IS NOT NULL AND walk.node_id <> walk.start_id
          AND walk.depth < :limit
    )
    SELECT DISTINCT customers.account FROM walk JOIN customers ON customers.id = walk.start_id
    WHERE walk.node_id = walk.start_id
    """
)


def accounts_in_cycles(connection: Connection, limit: int = 1000) -> set[str]:
    """The accounts whose chain of parents leads back to themselves."""
    return set(connection.execute(_CYCLES, {"limit": limit}).scalars())
