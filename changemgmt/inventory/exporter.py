"""Exporting the inventory as CSV (one kind) or JSON (every kind, or one), in the very
format the importer reads, so that an export imports back unchanged.

Rows are streamed (yield_per) in the order of their key compared byte by byte, the same
on SQLite and PostgreSQL whatever the database's collation. CSV cells that look like
spreadsheet formulas are prefixed with a quote (OWASP); JSON is written as stored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import TextIO

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.domain.errors import DomainError
from changemgmt.inventory.cells import neutralise
from changemgmt.inventory.fields import KIND_NAMES, check_kind_name
from changemgmt.inventory.sql import CONTACTS, CUSTOMERS, LOCATIONS, SERVICES

YIELD_PER = 2000
COLUMNS = {
    "locations": ("code", "name", "address", "city", "region", "country", "time_zone"),
    "customers": ("account", "name", "parent_account", "time_zone", "active", "lead_name", "lead_email", "lead_phone"),
    "contacts": ("account", "email", "name", "role", "notice_kinds", "min_impact", "reminders"),
    "services": ("service_id", "account", "product", "bandwidth", "a_end", "z_end"),
}


def export_inventory(
    factory: sessionmaker[Session], out: TextIO, *, kind: str | None = None, fmt: str = "csv"
) -> dict[str, int]:
    """Writes the rows of `kind` (JSON: of every kind when None) to `out`; returns how
    many rows of each kind were written."""
    if fmt not in ("csv", "json"):
        raise DomainError("format", f"{fmt!r} is not csv or json")
    if kind is None and fmt == "csv":
        raise DomainError("kind", "a CSV file holds one kind; name it")
    names = [check_kind_name(kind)] if kind else list(KIND_NAMES)
    with factory() as session, session.begin():
        if fmt == "csv":
            return {names[0]: _write_csv(out, names[0], _rows(session, names[0]))}
        return _write_json(out, {name: _rows(session, name) for name in names})


def _rows(session: Session, kind: str) -> Iterator[tuple]:
    query = _QUERIES[kind](_bytewise if session.get_bind().dialect.name == "postgresql" else _as_is)
    for partition in session.execute(query, execution_options={"yield_per": YIELD_PER}).partitions():
        yield from partition


def _write_csv(out: TextIO, kind: str, rows: Iterator[tuple]) -> int:
    writer = csv.writer(out)
    writer.writerow(COLUMNS[kind])
    written = 0
    for row in rows:
        writer.writerow([neutralise(_cell(value)) for value in row])
        written += 1
    return written


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def _write_json(out: TextIO, kinds: dict[str, Iterator[tuple]]) -> dict[str, int]:
    counts = {}
    out.write("{")
    for index, (kind, rows) in enumerate(kinds.items()):
        out.write(f'{"," if index else ""}\n  "{kind}": [')
        written = 0
        for row in rows:
            item = json.dumps(dict(zip(COLUMNS[kind], row)), ensure_ascii=False)
            out.write(f"{',' if written else ''}\n    {item}")
            written += 1
        out.write("\n  ]" if written else "]")
        counts[kind] = written
    out.write("\n}\n")
    return counts


def _bytewise(column: ColumnElement) -> ColumnElement:
    return column.collate("C")


def _as_is(column: ColumnElement) -> ColumnElement:
    return column


def _locations(order) -> Select:
    t = LOCATIONS
    return select(t.c.code, t.c.name, t.c.address, t.c.city, t.c.region, t.c.country, t.c.time_zone).order_by(
        order(t.c.code)
    )


def _customers(order) -> Select:
    customer, parent = CUSTOMERS, CUSTOMERS.alias("parent")
    return (
        select(
            customer.c.account,
            customer.c.name,
            parent.c.account,
            customer.c.time_zone,
            customer.c.active,
            customer.c.lead_name,
            customer.c.lead_email,
            customer.c.lead_phone,
        )
        .select_from(customer.outerjoin(parent, customer.c.parent_id == parent.c.id))
        .order_by(order(customer.c.account))
    )


def _contacts(order) -> Select:
    c = CONTACTS
    return (
        select(CUSTOMERS.c.account, c.c.email, c.c.name, c.c.role, c.c.notice_kinds, c.c.min_impact, c.c.reminders)
        .join_from(c, CUSTOMERS, c.c.customer_id == CUSTOMERS.c.id)
        .order_by(order(CUSTOMERS.c.account), order(c.c.email))
    )


def _services(order) -> Select:
    s, a_end, z_end = SERVICES, LOCATIONS.alias("a_end"), LOCATIONS.alias("z_end")
    return (
        select(s.c.service_id, CUSTOMERS.c.account, s.c.product, s.c.bandwidth, a_end.c.code, z_end.c.code)
        .select_from(
            s.join(CUSTOMERS, s.c.customer_id == CUSTOMERS.c.id)
            .outerjoin(a_end, s.c.a_end_id == a_end.c.id)
            .outerjoin(z_end, s.c.z_end_id == z_end.c.id)
        )
        .order_by(order(s.c.service_id))
    )


_QUERIES = {"locations": _locations, "customers": _customers, "contacts": _contacts, "services": _services}
