"""Many rows, or many values, in one short statement, on both databases.

On PostgreSQL the rows travel as one JSON parameter under a short `INSERT ... SELECT FROM
json_populate_recordset(...)`, which reads each field as its column's type. The usual
multi-row VALUES statement is text that grows with the rows, and the driver re-parses text
that long on every call (it caches only short statements); one array per column is short
too, but the driver builds array parameters in Python, element by element, where JSON is
encoded in C. For the first reason `among` matches a column against many values as one
parameter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import orjson
from sqlalchemy import Boolean, ColumnElement, Table, Text, TypeDecorator, bindparam, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

from changemgmt.store.db import is_postgres
from changemgmt.store.models import UtcDateTime


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[Row]:
    """Inserts `rows` (dicts with the same keys). With `conflict` (the columns of a unique
    constraint), a row whose key exists updates the `update` columns, or is skipped when
    there are none. Returns the `returning` columns of the rows written, in no set order."""
    if not rows:
        return []
    if is_postgres(session.get_bind()):
        statement, parameters = _json_insert(session, table, rows, conflict, update, returning)
    else:
        statement, parameters = _values_insert(table, conflict, update, returning), list(rows)
    result = session.execute(statement, parameters)
    return list(result) if returning else []


def update_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict],
    *,
    match: Sequence[str],
    only: Mapping[str, object] = {},
    constants: Mapping[str, object] = {},
) -> None:
    """For each row (dicts with the same keys): sets its other columns, and `constants`, on
    the table's row whose `match` columns equal its own, if that row also has the values
    of `only`. Rows should not share a key: on PostgreSQL one of them would win."""
    if not rows:
        return
    names = [name for name in rows[0] if name not in match]
    if is_postgres(session.get_bind()):
        sql, parameters = _json_update(session, table, rows, match, names, only, constants)
        session.flush()  # as session.execute would (autoflush): the ORM's pending rows first
        session.connection().exec_driver_sql(sql, parameters)
        return
    statement = (
        update(table)
        .where(
            *(table.c[name] == bindparam(f"m_{name}") for name in match),
            *(table.c[name] == value for name, value in only.items()),
        )
        .values({**{name: bindparam(f"s_{name}") for name in names}, **constants})
    )
    session.execute(
        statement, [{**{f"m_{n}": row[n] for n in match}, **{f"s_{n}": row[n] for n in names}} for row in rows]
    )


def _json_update(session: Session, table: Table, rows, match, names, only, constants) -> tuple[str, dict]:
    """The UPDATE as driver-level SQL and its parameters: it runs once per few outcomes a
    worker records, where building and compiling a SQLAlchemy statement each time cost
    more than the database did."""
    settings = [f"{name} = v.{name}" for name in names] + [f"{name} = %(k_{name})s" for name in constants]
    conditions = [f"{table.name}.{name} = v.{name}" for name in match]
    conditions += [f"{table.name}.{name} = %(w_{name})s" for name in only]
    # PostgreSQL guesses 100 rows for any recordset: for the few rows a worker records at a
    # time it then hashes them and scans the whole table (a fan-out of 20,000 slowed to a
    # fifth). The LIMIT tells it how many there are, so it looks each one up by index.
    rowset = f"(SELECT * FROM {_recordset(table, '%(rows)s')} LIMIT {len(rows):d})"
    sql = f"UPDATE {table.name} SET {', '.join(settings)} FROM {rowset} AS v WHERE {' AND '.join(conditions)}"
    dialect = session.get_bind().dialect
    parameters = {f"k_{name}": _bound(table, name, value, dialect) for name, value in constants.items()}
    parameters |= {f"w_{name}": _bound(table, name, value, dialect) for name, value in only.items()}
    parameters["rows"] = _rows_json(session, table, rows, [*match, *names])
    return sql, parameters


def _bound(table: Table, name: str, value, dialect):
    """`value` as the column's type hands it to the driver."""
    processor = table.c[name].type.bind_processor(dialect)
    return processor(value) if processor else value


def _values_insert(table: Table, conflict, update, returning):
    statement = sqlite.insert(table)
    if conflict and update:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict), set_={name: statement.excluded[name] for name in update}
        )
    elif conflict:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def _json_insert(session: Session, table: Table, rows, conflict, update, returning):
    names = list(rows[0])
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(names)} FROM {_recordset(table)}"
    if conflict:
        action = ("UPDATE SET " + ", ".join(f"{name} = EXCLUDED.{name}" for name in update)) if update else "NOTHING"
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO {action}"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql), {"rows": _rows_json(session, table, rows, names)}


def _recordset(table: Table, placeholder: str = ":rows") -> str:
    """The rows parameter as rows of the table's type (absent fields are NULL)."""
    return f"json_populate_recordset(NULL::{table.name}, CAST({placeholder} AS JSON))"


# Times go to _AwareIso, which refuses naive ones; integer keys become strings, as in json.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _rows_json(session: Session, table: Table, rows, names) -> str:
    """The rows as one JSON array of objects, times as ISO 8601 with their offset. A
    column type with a bind step of its own other than for times is run first."""
    dialect = session.get_bind().dialect
    steps = {
        name: table.c[name].type
        for name in names
        if isinstance(table.c[name].type, TypeDecorator) and not isinstance(table.c[name].type, UtcDateTime)
    }
    if steps:
        rows = [
            {**row, **{name: kind.process_bind_param(row[name], dialect) for name, kind in steps.items()}}
            for row in rows
        ]
    times = _AwareIso()
    try:
        return orjson.dumps(rows, default=times, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:  # a lone surrogate, an integer past 64 bits, a naive time: as before
        return json.dumps(rows, separators=(",", ":"), default=times)


class _AwareIso(dict):
    """What UtcDateTime would bind, as JSON: naive times are refused. Remembers each time
    it has written: the rows of one statement mostly share a handful of times."""

    def __call__(self, value) -> str:
        try:
            return self[value]
        except KeyError:
            pass
        except TypeError:  # unhashable: not a time
            raise TypeError(f"{type(value).__name__} {value!r} cannot be written as JSON") from None
        if not isinstance(value, datetime):
            raise TypeError(f"{type(value).__name__} {value!r} cannot be written as JSON")
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given; times must be timezone-aware")
        self[value] = value.isoformat()
        return self[value]


class _ValueList(TypeDecorator):
    """A list bound as one parameter: an array on PostgreSQL, JSON text elsewhere."""

    impl = Text
    cache_ok = True

    def __init__(self, item_type) -> None:
        super().__init__()
        self.item_type = item_type

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(self.item_type))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value, dialect):
        return list(value) if dialect.name == "postgresql" else json.dumps(list(value))


class among(ColumnElement[bool]):
    """`column IN values` as one parameter, however many the values: `= ANY(array)` on
    PostgreSQL, `IN (SELECT value FROM json_each(...))` on SQLite. A plain `in_` renders a
    placeholder per value, long text that the driver re-parses on every call."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no "= 1" after it in a WHERE
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column, values: Iterable) -> None:
        self.column = column
        self.values = bindparam(None, list(values), type_=_ValueList(column.type))


@compiles(among)
def _among_json(element: among, compiler, **kw) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"


@compiles(among, "postgresql")
def _among_array(element: among, compiler, **kw) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} = ANY({values})"
