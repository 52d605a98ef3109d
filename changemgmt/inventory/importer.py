"""Importing an inventory file: all of it in one transaction, or nothing (SPEC §1).

Rows are validated one by one and written in chunks: one query per chunk resolves the
keys they refer to (the transaction sees earlier chunks), one executemany upsert writes
them. A bad row does not stop the reading: every problem of the file is collected (bad
cells, unknown references, keys repeated within the file), and at the end any problem
rolls the whole file back. Memory holds one chunk and the keys of one kind seen so far
(with the position of each), never the rows of the file.

Rows that change what a calendar feed shows mark those feeds for rebuilding, in the same
transaction (`feedmarks`: one more query per chunk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.inventory.errors import Collector, ImportFailed, RowError
from changemgmt.inventory.feedmarks import FeedMarks
from changemgmt.inventory.fields import Kind, check_kind_name, kinds
from changemgmt.inventory.readers import Progress, RowProblem, Source, open_source
from changemgmt.inventory.refs import Chunk, Entry, References
from changemgmt.inventory.sql import accounts_in_cycles, count, upsert
from changemgmt.store.models import AuditEntry

CHUNK_ROWS = 2000
MAX_WARNINGS = 100


@dataclass(frozen=True)
class ImportResult:
    """What an import did (or, for a dry run, would do), kind by kind."""

    file: str
    format: str
    dry_run: bool
    rows: dict[str, int]
    new: dict[str, int]
    warnings: list[RowError] = field(default_factory=list)
    more_warnings: int = 0

    def summary(self) -> list[str]:
        """One line per kind, e.g. "services: 120 rows (100 new, 20 updated)"."""
        lines = []
        for kind, rows in self.rows.items():
            new = self.new.get(kind, 0)
            lines.append(f"{kind}: {rows} rows ({new} new, {rows - new} updated)")
        return lines


def import_inventory(
    factory: sessionmaker[Session],
    file: str | Path | BinaryIO,
    *,
    settings: Settings,
    actor: str,
    kind: str | None = None,
    fmt: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Upserts every row of `file` (CSV or JSON; see `readers`) in one transaction, marks
    the feeds its changes make stale, and records who did it. Raises ImportFailed, having
    written nothing, if any row is bad; a dry run checks and counts everything, then
    rolls back."""
    source = open_source(file, check_kind_name(kind) if kind else None, fmt, progress)
    now = now or datetime.now(UTC)
    with factory() as session:
        transaction = session.begin()
        try:
            connection = session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
            run = _Run(connection, source, kinds(settings.default_time_zone), dry_run)
            result = run.run()
            if dry_run:
                transaction.rollback()
            else:
                run.marks.request(session, now)
                session.add(_audit_entry(result, actor, now))
                transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
    return result


def _audit_entry(result: ImportResult, actor: str, now: datetime) -> AuditEntry:
    counts = {kind: {"rows": rows, "new": result.new[kind]} for kind, rows in result.rows.items()}
    return AuditEntry(
        at=now,
        actor=actor,
        entity="inventory",
        entity_key=result.file[:200],
        action="import",
        details={"file": result.file, "format": result.format, "counts": counts},
    )


class _Run:
    def __init__(self, connection: Connection, source: Source, known: dict[str, Kind], dry_run: bool) -> None:
        self.connection = connection
        self.source = source
        self.known = known
        self.dry_run = dry_run
        self.errors = Collector()
        self.warnings = Collector(MAX_WARNINGS)
        self.refs = References(connection, self.errors, source.where)
        self.marks = FeedMarks(connection)

    def run(self) -> ImportResult:
        rows, new = {}, {}
        try:
            for name in self.source.kinds:
                before = count(self.connection, name)
                self.marks.existing = before  # none: every row is new, nothing to compare
                rows[name] = self._import_kind(self.known[name])
                if name == "customers":
                    self._finish_customers()
                new[name] = count(self.connection, name) - before
        except ImportFailed as unreadable:  # the rest of the file cannot be read
            self.errors.extend(unreadable.problems)
        if self.errors:
            raise self.errors.failure()
        return ImportResult(
            self.source.name,
            self.source.format,
            self.dry_run,
            rows,
            new,
            self.warnings.items,
            self.warnings.more,
        )

    def _import_kind(self, kind: Kind) -> int:
        """Reads and writes every row of one kind; returns how many rows were read."""
        rows = _Rows(self, kind, self._check_header(kind))
        chunk, read = [], 0
        for position, raw in self.source.rows(kind.name):
            read += 1
            entry = rows.parse(position, raw)
            if entry is not None:
                chunk.append(entry)
            if len(chunk) >= CHUNK_ROWS:
                self._write(kind, chunk)
                chunk = []
        self._write(kind, chunk)
        return read

    def _check_header(self, kind: Kind) -> frozenset[str]:
        """Reports the CSV header's unknown, missing and repeated columns; returns the
        required columns it lacks (their rows are not told again that they lack them)."""
        if self.source.format != "csv":
            return frozenset()
        where = self.source.where(kind.name, self.source.header_line)
        header = self.source.header
        for name in header:
            if name not in kind.columns:
                self.errors.add(where, name, f"is not a column of {kind.name} ({', '.join(kind.columns)})")
        missing = [name for name in kind.required if name not in header]
        for name in missing:
            self.errors.add(where, name, "column is missing")
        for name in sorted({name for name in header if header.count(name) > 1}):
            self.errors.add(where, name, "column appears twice")
        return frozenset(missing)

    def _write(self, kind: Kind, chunk: Chunk) -> None:
        rows = self.refs.rows_for(kind.name, chunk)
        if not self.dry_run and not self.errors:  # a file with problems is rolled back
            self.marks.note(kind.name, rows)
        upsert(self.connection, kind.name, rows)

    def _finish_customers(self) -> None:
        self.refs.finish_parents()
        if not self.refs.parents_named:
            return
        cycles = accounts_in_cycles(self.connection)
        if cycles:
            self._report_cycles(cycles)

    def _report_cycles(self, cycles: set[str]) -> None:
        """Names the rows of this file that close a cycle of parents. The file is read
        again for their lines, which only a rejected file costs."""
        for position, raw in self.source.rows("customers"):
            if isinstance(raw, RowProblem):
                continue
            account = str(raw.get("account") or "").strip()
            parent = str(raw.get("parent_account") or "").strip()
            if account in cycles and parent:
                message = f"{parent!r} makes a cycle: {account!r} would be its own ancestor"
                self.errors.add(self.source.where("customers", position), "parent_account", message)


class _Rows:
    """Checks the rows of one kind one at a time: their cells, their keys (each once in
    the file; the first position of each key is kept, nothing more) and, for JSON, their
    fields. A row with problems is reported and kept only to check what it refers to."""

    def __init__(self, run: _Run, kind: Kind, missing_columns: frozenset[str]) -> None:
        self.run = run
        self.kind = kind
        self.missing_columns = missing_columns
        self.fields = frozenset(kind.columns) if run.source.format == "json" else None
        self.first_seen: dict[object, int] = {}

    def parse(self, position: int, raw: dict | RowProblem) -> Entry | None:
        """The row as (position, row, good), or None when it could not be read at all."""
        if isinstance(raw, RowProblem):
            self.run.errors.add(self.where(position), raw.field, raw.message)
            return None
        problems: list[tuple[str, str]] = []
        formulas: list[str] = []
        row = self.kind.parse(raw, problems, formulas)
        if self.fields is not None and raw.keys() - self.fields:
            problems.extend(self._unknown_fields(raw, self.fields))
        key = self.kind.key_in(row) if problems else self.kind.key_of(row)
        if key is not None and self.first_seen.setdefault(key, position) != position:
            problems.append(self._repeated(key, position))
        if not problems:
            if formulas:
                self._warn_formulas(self.where(position), row, formulas)
            return position, row, True
        where = self.where(position)
        for name, message in problems:
            if name not in self.missing_columns:  # said once, of the header
                self.run.errors.add(where, name, message)
        self.run.refs.reject(self.kind.name, key if key is not None else raw.get(self.kind.key[0]))
        return position, row, False

    def where(self, position: int) -> str:
        return self.run.source.where(self.kind.name, position)

    def _unknown_fields(self, raw: dict, fields: frozenset[str]) -> list[tuple[str, str]]:
        known = ", ".join(sorted(fields))
        return [(name, f"is not a field of {self.kind.name} ({known})") for name in sorted(raw.keys() - fields)]

    def _repeated(self, key: object, position: int) -> tuple[str, str]:
        shown = f"{key[1]!r} of account {key[0]!r}" if isinstance(key, tuple) else repr(key)
        first = self.where(self.first_seen[key])
        return (
            self.kind.key[-1],
            f"{shown} is also {'on' if self.run.source.format == 'csv' else 'at'} {first}; "
            f"each {self.kind.singular} may appear once in a file",
        )

    def _warn_formulas(self, where: str, row: dict, names: list[str]) -> None:
        for name in names:
            self.run.warnings.add(
                where,
                name,
                f"starts with {row[name][0]!r} like a spreadsheet formula; "
                "stored as text, and CSV exports prefix it with a quote",
            )
