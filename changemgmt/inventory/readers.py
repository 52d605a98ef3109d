"""Reading an inventory file as a stream of raw rows, whatever its format.

CSV: one kind per file, UTF-8 (with or without BOM), RFC 4180 quoting through the `csv`
module; the kind is given or inferred from the header. JSON: an object
`{"locations": [...], "customers": [...], ...}`, or a top-level array of one kind, read
with ijson so that only one item is in memory at a time. Rows are read once per kind, so
a source can be read again (a path is reopened, a stream is rewound).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

import ijson

from changemgmt.domain.errors import DomainError
from changemgmt.inventory.cells import unescape
from changemgmt.inventory.errors import ImportFailed, RowError
from changemgmt.inventory.fields import KIND_NAMES, infer_kind

BOM = b"\xef\xbb\xbf"
REPORT_EVERY = 1024
Progress = Callable[[int, int], None]


class RowProblem(NamedTuple):
    """A row that cannot even be read as a record (stands in for its dict)."""

    field: str
    message: str


def fail(where: str, field: str, message: str) -> ImportFailed:
    return ImportFailed([RowError(where, field, message)])


def header_name(cell: str) -> str:
    return cell.strip().lower().replace(" ", "_").replace("-", "_")


class Source:
    """An opened inventory file: its format, the kinds it holds (in import order), and
    its rows kind by kind. `progress(done, total)` hears how many of its bytes were read,
    scaled over every pass so that `done` ends at `total`, the file's size."""

    def __init__(self, file: str | Path | BinaryIO, progress: Progress | None = None) -> None:
        self._path = None if hasattr(file, "read") else Path(file)
        self._stream = file if self._path is None else None
        self.name = self._path.name if self._path else Path(getattr(file, "name", "") or "upload").name
        self.progress = progress
        self.format = "csv"
        self.kinds: list[str] = []
        self.header: list[str] = []
        self.header_line = 0
        self.top_array = False
        self._start = 0
        self._passes_done = 0
        with self.binary() as binary:
            self.size = binary.seek(0, io.SEEK_END)

    @contextmanager
    def binary(self) -> Iterator[BinaryIO]:
        if self._path is None:
            self._stream.seek(self._start)
            yield self._stream
            return
        try:
            handle = open(self._path, "rb")
        except OSError as exc:
            raise fail("file", "", f"cannot read {self._path}: {exc.strerror}") from None
        with handle:
            handle.seek(self._start)
            yield handle

    def sniff(self, fmt: str | None) -> None:
        if fmt not in (None, "csv", "json"):
            raise DomainError("format", f"{fmt!r} is not csv or json")
        with self.binary() as binary:
            head = binary.read(4096)
        if head.startswith(BOM):
            self._start = len(BOM)
            head = head[len(BOM):]
        first = head.lstrip()[:1]
        self.format = fmt or ("json" if first in (b"{", b"[") else "csv")

    def rows(self, kind: str, columns: tuple[str, ...]) -> Iterator[tuple[str, dict | RowProblem]]:
        """Yields (where, row) for each row of `kind`: "line 12" for CSV, "services[12]"
        for JSON."""
        read = _csv_rows if self.format == "csv" else _json_rows
        with self.binary() as binary:
            yield from read(self, binary, kind, columns)
        self._passes_done += 1
        self.report(0)

    def report(self, position: int) -> None:
        if self.progress is None or not self.size:
            return
        passes = max(len(self.kinds), 1)
        done = (self._passes_done * self.size + position) // passes
        self.progress(min(done, self.size), self.size)


def open_source(
    file: str | Path | BinaryIO,
    kind: str | None = None,
    fmt: str | None = None,
    progress: Progress | None = None,
) -> Source:
    """Opens `file` and reads just enough of it to know its format and kinds; raises
    ImportFailed when it cannot be an inventory file."""
    source = Source(file, progress)
    source.sniff(fmt)
    if source.format == "csv":
        _read_csv_header(source, kind)
    else:
        _scan_json(source, kind)
    return source


@contextmanager
def _text(binary: BinaryIO) -> Iterator[io.TextIOWrapper]:
    """The file as text; bytes that are not UTF-8 fail naming their line."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        yield text
    except UnicodeDecodeError:
        raise fail(f"line {_first_bad_line(binary)}", "", "is not UTF-8 text") from None
    finally:
        text.detach()


def _first_bad_line(binary: BinaryIO) -> int:
    # The decoder works a block at a time; finding the line costs a second read, on
    # rejected files only.
    binary.seek(0)
    for number, line in enumerate(binary, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return 1


def _read_csv_header(source: Source, kind: str | None) -> None:
    with source.binary() as binary, _text(binary) as text:
        reader = csv.reader(text)
        try:
            header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        except csv.Error as exc:
            raise fail(f"line {reader.line_num}", "", str(exc)) from None
    if header is None:
        raise fail("file", "", "is empty")
    source.header = [header_name(cell) for cell in header]
    name = kind or infer_kind(set(source.header))
    if name is None:
        raise fail(f"line {reader.line_num}", "header", "does not say which kind of rows follow; name the kind")
    source.kinds = [name]
    source.header_line = reader.line_num


def _csv_rows(source: Source, binary: BinaryIO, kind: str, columns: tuple[str, ...]):
    header, width = source.header, len(source.header)
    line = 0
    with _text(binary) as text:
        reader = csv.reader(text)
        try:
            for count, cells in enumerate(reader):
                start, line = line + 1, reader.line_num
                if start <= source.header_line or not any(cells):
                    continue
                if count % REPORT_EVERY == 0:
                    source.report(binary.tell())
                if len(cells) > width and any(cells[width:]):
                    yield f"line {start}", RowProblem("row", f"has {len(cells)} cells; the header has {width}")
                    continue
                yield f"line {start}", _row(header, cells)
        except csv.Error as exc:
            raise fail(f"line {reader.line_num}", "", str(exc)) from None


def _row(header: list[str], cells: list[str]) -> dict[str, str]:
    joined = "\n".join(cells)
    if joined[:1] == "'" or "\n'" in joined:
        cells = [unescape(cell) for cell in cells]
    return dict(zip(header, cells))


def _json_rows(source: Source, binary: BinaryIO, kind: str, columns: tuple[str, ...]):
    prefix = "item" if source.top_array else f"{kind}.item"
    known = frozenset(columns)
    try:
        for index, item in enumerate(ijson.items(binary, prefix, use_float=True)):
            if index % REPORT_EVERY == 0:
                source.report(binary.tell())
            yield f"{kind}[{index}]", _json_row(item, known, kind)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise fail("file", "", _not_json(exc)) from None


def _json_row(item: object, known: frozenset[str], kind: str) -> dict | RowProblem:
    if not isinstance(item, dict):
        return RowProblem("item", "is not an object")
    unknown = item.keys() - known
    if unknown:
        return RowProblem(min(unknown), f"is not a field of {kind} ({', '.join(sorted(known))})")
    return item


def _scan_json(source: Source, kind: str | None) -> None:
    """Learns the kinds a JSON file holds, from its top-level keys (one quick pass)."""
    found = []
    with source.binary() as binary:
        try:
            events = ijson.parse(binary)
            _, top, _ = next(events)
            if top == "start_array":
                source.top_array = True
                found = [kind or _kind_of_first_item(source)]
            elif top == "start_map":
                found = _top_level_keys(events)
            else:
                raise fail("file", "", "must hold an object of arrays or one array")
        except (ijson.JSONError, UnicodeDecodeError, StopIteration) as exc:
            raise fail("file", "", _not_json(exc)) from None
    source.kinds = [name for name in KIND_NAMES if name in found and (kind is None or name == kind)]
    if not source.kinds:
        raise fail("file", "", f"holds no {kind or 'inventory'} ({', '.join(KIND_NAMES)})")


def _not_json(exc: Exception) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "it is empty"
    return f"is not valid JSON: {detail}"


def _top_level_keys(events) -> list[str]:
    keys: list[str] = []
    for prefix, event, value in events:
        if prefix == "" and event == "map_key":
            if value not in KIND_NAMES:
                raise fail("file", value, f"is not a kind of inventory ({', '.join(KIND_NAMES)})")
            keys.append(value)
        elif prefix in KIND_NAMES and event not in ("start_array", "end_array"):
            raise fail("file", prefix, "must be an array of objects")
    return keys


def _kind_of_first_item(source: Source) -> str:
    with source.binary() as binary:
        first = next(ijson.items(binary, "item"), None)
    name = infer_kind(set(first)) if isinstance(first, dict) else None
    if name is None:
        raise fail("file", "", "its first item does not say which kind of rows follow; name the kind")
    return name
