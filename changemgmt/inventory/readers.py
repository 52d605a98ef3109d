"""Reading an inventory file as a stream of raw rows, whatever its format.

CSV: one kind per file, UTF-8 (with or without BOM), comma-separated, RFC 4180 quoting
through the `csv` module; the kind is given or inferred from the header. JSON: an object
`{"locations": [...], "customers": [...], ...}`, or a top-level array of one kind, read
with ijson so that only one item is in memory at a time. Rows are read once per kind, so
a source can be read again (a path is reopened, a stream is rewound).

JSON goes through ijson's yajl2_c backend, chosen for speed: it parses 100,000 services
in 0.2 s where the pure-Python backend takes 4 s. What it gets wrong (a crash on numbers
of more than 4,300 digits, lone surrogate escapes read as "?") is refused first by
`jsonguard`; nesting deeper than MAX_DEPTH is refused while the file's shape is read, so
that ijson, whose cost grows with the square of the depth, never builds it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import BinaryIO, NamedTuple

import ijson

from changemgmt.domain.errors import DomainError
from changemgmt.inventory import jsonguard
from changemgmt.inventory.cells import unescape
from changemgmt.inventory.errors import Collector, ImportFailed, Place, RowError
from changemgmt.inventory.fields import KIND_NAMES, infer_kind

BOM = b"\xef\xbb\xbf"
REPORT_EVERY = 1024
# An inventory item is a flat object (4 levels: the file, a kind's array, the item, a
# list of notice kinds); deeper nesting is refused before any item is built.
MAX_DEPTH = 10
KIND_OPTION = "--kind " + "|".join(KIND_NAMES)
NOT_UTF8 = "is not UTF-8 text"
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_SPREADSHEET_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}
Progress = Callable[[int, int], None]


def _json_backend():
    try:
        return ijson.get_backend("yajl2_c")
    except ImportError:  # no C extension built for this platform: exact, and slower
        return ijson.get_backend("python")


JSON = _json_backend()


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
        # a file to open at each pass, or a stream open already (an upload)
        self._file: Path | BinaryIO = Path(file) if isinstance(file, (str, PathLike)) else file
        self.name = (
            self._file.name if isinstance(self._file, Path) else Path(getattr(file, "name", "") or "upload").name
        )
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
        if not isinstance(self._file, Path):
            self._file.seek(self._start)
            yield self._file
            return
        try:
            handle = open(self._file, "rb")
        except OSError as exc:
            raise fail("file", "", f"cannot read {self._file}: {exc.strerror}") from None
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
            head = head[len(BOM) :]
        first = head.lstrip()[:1]
        self.format = fmt or ("json" if first in (b"{", b"[") else "csv")

    def rows(self, kind: str) -> Iterator[tuple[int, dict | RowProblem]]:
        """Yields (position, row) for each row of `kind`: its line for CSV, its index
        in the array for JSON (see `where`)."""
        read = _csv_rows if self.format == "csv" else _json_rows
        with self.binary() as binary:
            yield from read(self, binary, kind)
        self._passes_done += 1
        self.report(0)

    def where(self, kind: str, position: int) -> Place:
        """Names a row for the person fixing the file: "line 12" or "services[12]"."""
        text = f"line {position}" if self.format == "csv" else f"{kind}[{position}]"
        return Place(text, (KIND_NAMES.index(kind), position))

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
    """The file as text. Bytes that are not UTF-8 are kept as lone surrogates (U+DC80 to
    U+DCFF, "surrogateescape"), so that the rows holding them are refused one by one."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield text
    finally:
        text.detach()


def _not_utf8(text: str) -> bool:
    return not text.isascii() and _ESCAPED_BYTE.search(text) is not None


def _read_csv_header(source: Source, kind: str | None) -> None:
    with source.binary() as binary, _text(binary) as text:
        reader = csv.reader(text)
        try:
            header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        except csv.Error as exc:
            raise fail(f"line {reader.line_num}", "", str(exc)) from None
    if header is None:
        raise fail("file", "", "is empty")
    where = f"line {reader.line_num}"
    if _not_utf8("".join(header)):
        raise fail(where, "", NOT_UTF8)
    delimiter = _spreadsheet_delimiter(header)
    if delimiter:
        raise fail(
            where,
            "header",
            f"this file seems to use {delimiter} between columns; changemgmt reads comma-separated files",
        )
    source.header = [header_name(cell) for cell in header]
    name = kind or infer_kind(set(source.header))
    if name is None:
        raise fail(
            where,
            "header",
            "does not say which kind of rows follow (it has no service_id, email, code or "
            f"account column); name the kind with {KIND_OPTION}",
        )
    source.kinds = [name]
    source.header_line = reader.line_num


def _spreadsheet_delimiter(header: list[str]) -> str | None:
    """How the columns of a one-column header seem separated, when not by commas (a
    spreadsheet's ';' or tab export)."""
    if len(header) != 1:
        return None
    try:
        dialect = csv.Sniffer().sniff(header[0], delimiters="".join(_SPREADSHEET_DELIMITERS))
    except csv.Error:
        return None
    return _SPREADSHEET_DELIMITERS[dialect.delimiter]


def _csv_rows(source: Source, binary: BinaryIO, kind: str):
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
                    yield start, RowProblem("row", f"has {len(cells)} cells; the header has {width}")
                    continue
                yield start, _row(header, cells)
        except csv.Error as exc:
            raise fail(f"line {reader.line_num}", "", str(exc)) from None


def _row(header: list[str], cells: list[str]) -> dict[str, str] | RowProblem:
    joined = "\n".join(cells)
    if _not_utf8(joined):
        return RowProblem("", NOT_UTF8)
    if joined[:1] == "'" or "\n'" in joined:
        cells = [unescape(cell) for cell in cells]
    return dict(zip(header, cells))


def _json_rows(source: Source, binary: BinaryIO, kind: str):
    prefix = "item" if source.top_array else f"{kind}.item"
    try:
        for index, item in enumerate(JSON.items(binary, prefix)):
            if index % REPORT_EVERY == 0:
                source.report(binary.tell())
            yield index, item if item.__class__ is dict else RowProblem("item", "is not an object")
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise fail("file", "", _not_json(exc)) from None


def _scan_json(source: Source, kind: str | None) -> None:
    """Checks the file's bytes (`jsonguard`), then learns its shape and the kinds it holds
    from the parser's events, in two quick passes that build nothing."""
    problems = Collector()
    with source.binary() as binary:
        jsonguard.check(binary, lambda where, message: problems.add(where, "", message))
    if problems:
        raise problems.failure()
    shape = _Shape(kind)
    with source.binary() as binary:
        try:
            shape.follow(JSON.basic_parse(binary))
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            if not shape.keys and shape.index < 0:
                raise fail("file", "", _not_json(exc)) from None
            # The rows before the error are still read (and checked, to the same point),
            # so that their problems are listed with it.
    source.top_array = shape.top == "start_array"
    found = [shape.kind_of_first_item()] if source.top_array else shape.keys
    source.kinds = [name for name in KIND_NAMES if name in found and (kind is None or name == kind)]
    if not source.kinds:
        raise fail("file", "", f"holds no {kind or 'inventory'} ({', '.join(KIND_NAMES)})")


def _not_json(exc: Exception) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "it is empty"
    return f"is not valid JSON: {detail}"


_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})
_BRACKETS = _OPEN | _CLOSE


class _Shape:
    """Follows a JSON file's events: its top value (an object of arrays or one array),
    the kinds it names, the keys of a top-level array's first item, and no nesting
    deeper than MAX_DEPTH. Raises ImportFailed for a file of another shape."""

    def __init__(self, kind: str | None) -> None:
        self.top: str | None = None
        self.keys: list[str] = []
        self.first_keys: set[str] = set()
        self.array = kind or "item"  # the array being read, named for messages
        self.index = -1  # of the item being read in that array

    def follow(self, events) -> None:
        depth = 0
        for event, value in events:
            if depth > 2 and event not in _BRACKETS:
                continue  # inside an item: only its nesting matters here
            if event in _OPEN:
                if depth:
                    self.item(depth, event)
                depth += 1
                if depth > MAX_DEPTH:
                    raise fail(
                        f"{self.array}[{self.index}]",
                        "",
                        f"is nested more than {MAX_DEPTH} levels deep; an inventory item is a flat object",
                    )
                if depth == 1:
                    self.top = event
            elif event in _CLOSE:
                depth -= 1
            elif event == "map_key":
                self.key(depth, value)
            else:
                self.item(depth, event)

    def item(self, depth: int, event: str) -> None:
        """A value starts at `depth` (the depth of the array or object holding it)."""
        if depth == 0:
            raise fail("file", "", "must hold an object of arrays or one array")
        if depth == 1 and self.top == "start_map":
            if event != "start_array":
                raise fail("file", self.array, "must be an array of objects")
        elif depth == (1 if self.top == "start_array" else 2):
            self.index += 1

    def key(self, depth: int, name: str) -> None:
        if depth == 1:
            if name not in KIND_NAMES:
                raise fail("file", name, f"is not a kind of inventory ({', '.join(KIND_NAMES)})")
            if name in self.keys:
                raise fail("file", name, "appears twice; put all of its items in one array")
            self.keys.append(name)
            self.array, self.index = name, -1
        elif depth == 2 and self.top == "start_array" and self.index == 0:
            self.first_keys.add(name)

    def kind_of_first_item(self) -> str:
        name = infer_kind(self.first_keys)
        if name is None:
            raise fail(
                "file", "", f"its first item does not say which kind of rows follow; name the kind with {KIND_OPTION}"
            )
        return name
