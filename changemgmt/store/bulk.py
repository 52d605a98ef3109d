"""Many rows, or many values, in one short statement, on both databases.

On PostgreSQL the rows travel as one array per column under a short `INSERT ... SELECT
FROM unnest(...)`. The usual multi-row VALUES statement is text that grows with the rows,
and the driver re-parses text that long on every call (it caches only short statements):
planning a GCR for 20,000 customers spent more time there than in the database itself.
For the same reason `among` matches a column against many values as one parameter.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import JSON, Boolean, ColumnElement, Table, Text, TypeDecorator, bindparam, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

from changemgmt.store.db import is_postgres


def insert_rows(
    session: Session, table: Table, rows: Sequence[dict], *, conflict: Sequence[str] = (),
    update: Sequence[str] = (), returning: Sequence[str] = (),
) -> list[Row]:
    """Inserts `rows` (dicts with the same keys). With `conflict` (the columns of a unique
    constraint), a row whose key exists updates the `update` columns, or is skipped when
    there are none. Returns the `returning` columns of the rows written, in no set order."""
    if not rows:
        return []
    if is_postgres(session.get_bind()):
        statement, parameters = _unnest_insert(session, table, rows, conflict, update, returning)
    else:
        statement, parameters = _values_insert(table, conflict, update, returning), list(rows)
    result = session.execute(statement, parameters)
    return list(result) if returning else []


def update_rows(
    session: Session, table: Table, rows: Sequence[dict], *, match: Sequence[str], only: Mapping[str, object] = {},
    constants: Mapping[str, object] = {},
) -> None:
    """For each row (dicts with the same keys): sets its other columns, and `constants`, on
    the table's row whose `match` columns equal its own, if that row also has the values
    of `only`. Rows should not share a key: on PostgreSQL one of them would win."""
    if not rows:
        return
    names = [name for name in rows[0] if name not in match]
    if is_postgres(session.get_bind()):
        statement, parameters = _unnest_update(session, table, rows, match, names, only, constants)
        session.execute(statement, parameters)
        return
    statement = (update(table)
                 .where(*(table.c[name] == bindparam(f"m_{name}") for name in match),
                        *(table.c[name] == value for name, value in only.items()))
                 .values({**{name: bindparam(f"s_{name}") for name in names}, **constants}))
    session.execute(statement, [{**{f"m_{n}": row[n] for n in match}, **{f"s_{n}": row[n] for n in names}}
                                for row in rows])


def _unnest_update(session: Session, table: Table, rows, match, names, only, constants):
    dialect = session.get_bind().dialect
    columns = [table.c[name] for name in (*match, *names)]
    arrays, casts = _columns_as_arrays(columns, rows, dialect)
    aliases = ", ".join(f"v{i}" for i in range(len(columns)))
    settings = [f"{name} = v.v{len(match) + i}" for i, name in enumerate(names)]
    settings += [f"{name} = :k_{name}" for name in constants]
    conditions = [f"{table.name}.{name} = v.v{i}" for i, name in enumerate(match)]
    conditions += [f"{table.name}.{name} = :w_{name}" for name in only]
    sql = (f"UPDATE {table.name} SET {', '.join(settings)} FROM unnest({casts}) AS v({aliases}) "
           f"WHERE {' AND '.join(conditions)}")
    typed = [bindparam(f"k_{name}", value, type_=table.c[name].type) for name, value in constants.items()]
    typed += [bindparam(f"w_{name}", value, type_=table.c[name].type) for name, value in only.items()]
    return text(sql).bindparams(*typed), arrays


def _values_insert(table: Table, conflict, update, returning):
    statement = sqlite.insert(table)
    if conflict and update:
        statement = statement.on_conflict_do_update(index_elements=list(conflict),
                                                    set_={name: statement.excluded[name] for name in update})
    elif conflict:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def _unnest_insert(session: Session, table: Table, rows, conflict, update, returning):
    dialect = session.get_bind().dialect
    names = list(rows[0])
    arrays, casts = _columns_as_arrays([table.c[name] for name in names], rows, dialect)
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({casts})"
    if conflict:
        action = ("UPDATE SET " + ", ".join(f"{name} = EXCLUDED.{name}" for name in update)) if update else "NOTHING"
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO {action}"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql), arrays


def _columns_as_arrays(columns, rows, dialect) -> tuple[dict[str, list], str]:
    """One array parameter per column (:c0, :c1, ...), and the typed list of them for unnest."""
    arrays = {f"c{i}": _column_values(column, rows, dialect) for i, column in enumerate(columns)}
    casts = ", ".join(f"CAST(:c{i} AS {_array_type(column, dialect)})" for i, column in enumerate(columns))
    return arrays, casts


def _array_type(column, dialect) -> str:
    if isinstance(column.type, JSON):
        return "JSON[]"
    return f"{column.type.compile(dialect=dialect)}[]"


def _column_values(column, rows, dialect) -> list:
    """The column's value in each row, as its type would bind it (text() binds as given)."""
    name = column.name
    if isinstance(column.type, JSON):
        return [None if row[name] is None else json.dumps(row[name]) for row in rows]
    if isinstance(column.type, TypeDecorator):
        return [column.type.process_bind_param(row[name], dialect) for row in rows]
    return [row[name] for row in rows]


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
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("values", InternalTraversal.dp_clauseelement)]

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
