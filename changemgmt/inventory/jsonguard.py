"""A lexical check of a JSON file's bytes before ijson parses it, for what ijson's C backend
(yajl2_c, chosen for its speed: see `readers`) gets wrong:

- A number too long for Python to convert (more than 4,300 digits) crashes the process
  with SIGSEGV inside the C backend. Numbers of more than MAX_NUMBER characters are
  refused here: no inventory field is that long.
- yajl decodes a lone UTF-16 surrogate escape ("a\\ud800b") as "a?b", and a high
  surrogate followed by any other \\u escape as some unrelated character: the text
  changes silently. Surrogate escapes are refused here unless they form a pair.
- A string of more than MAX_STRING bytes is refused, which bounds what this check holds.

Deep nesting, the third danger, is checked on the parser's events (`readers`).

One pass at regular-expression speed with one block in memory. The expression reads
tokens as leniently as any ijson backend does (yajl takes \v and \f for spaces), and
bytes that are not JSON as runs of their own, but strings exactly as JSON delimits them,
so it never mistakes what is inside a string for what is outside. It stops only at
something to report, or at a string or number that the next block completes. The
parser refuses what is not JSON with its own syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import BinaryIO

MAX_NUMBER = 100
MAX_STRING = 1 << 20
BLOCK = 1 << 20

_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
# Inside a string: plain bytes, escapes other than \u, \u escapes of no surrogate, and a
# high surrogate escape directly followed by a low one.
_STRING = rb'"(?:[^"\\]++|\\[^u]|\\u(?![dD][89a-fA-F])|' + _HIGH + _LOW + rb')*+"'
# Looser than JSON's grammar (the parser checks the number), but never longer than allowed.
_NUMBER = rb"[-0-9][-+.0-9eE]{0,%d}+(?![-+.0-9eE])" % (MAX_NUMBER - 1)
_SPACES = rb"[ \t\n\v\f\r,:\[\]{}]++"
_WORD = rb"[a-zA-Z]++"  # true, false, null; the parser refuses any other
_OTHER = rb'[^"\-0-9a-zA-Z \t\n\v\f\r,:\[\]{}]++'  # never JSON outside a string
_TOKENS = re.compile(rb"(?:" + rb"|".join([_SPACES, _STRING, _NUMBER, _WORD, _OTHER]) + rb")*+")
_NUMBER_AT_END = re.compile(rb"[-0-9][-+.0-9eE]*\Z")
_ANY_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_ESCAPE = re.compile(rb"\\(?:u[0-9a-fA-F]{4}|.)", re.DOTALL)
_LOW_ESCAPE = re.compile(_LOW)
_NUMBER_RUN = re.compile(rb"[-+.0-9eE]*")

Report = Callable[[str, str], None]


def _run_end(pattern: re.Pattern[bytes], data: bytes, position: int = 0) -> int:
    """Where the run of `pattern` from `position` ends: these patterns match the empty string too."""
    run = pattern.match(data, position)
    assert run is not None
    return run.end()


def check(binary: BinaryIO, report: Report) -> None:
    """Reads `binary` to its end and calls `report(where, message)` for every number too
    long, lone surrogate escape and string too long in it; `where` is "line L, column C"
    (C counts bytes)."""
    _Scan(report).run(binary)


class _End(Exception):
    """Nothing further can be checked."""


class _MoreData(Exception):
    """The token at `position` goes on in the next block."""

    def __init__(self, position: int) -> None:
        self.position = position


class _Scan:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.line = 1  # of the first byte of the data being scanned
        self.line_start = 0  # the file offset where that line starts
        self.offset = 0  # the file offset of the data being scanned
        self.in_long_number = False

    def run(self, binary: BinaryIO) -> None:
        pending = b""
        while True:
            block = binary.read(BLOCK)
            data = pending + block
            try:
                done = self.scan(data, final=not block)
            except _End:
                return
            if not block:
                return
            self.advance(data, done)
            pending = data[done:]

    def scan(self, data: bytes, final: bool) -> int:
        """Checks `data` from its start; returns how much of it is checked: the rest is
        a token that the next block completes."""
        position = 0
        if self.in_long_number:  # the rest of a number reported in the block before
            position = _run_end(_NUMBER_RUN, data)
            self.in_long_number = position == len(data)
        try:
            while True:
                position = _run_end(_TOKENS, data, position)
                if position == len(data):
                    return position if final or self.in_long_number else self.checked_before_cut(data)
                position = self.stopped_at(data, position, final)
        except _MoreData as more:
            return more.position

    @staticmethod
    def checked_before_cut(data: bytes) -> int:
        """Where a number that the end of the block may cut starts (it is checked whole
        with the next block); what else is cut there is harmless to check in two parts."""
        number = _NUMBER_AT_END.search(data, max(0, len(data) - MAX_NUMBER))
        return number.start() if number else len(data)

    def stopped_at(self, data: bytes, position: int, final: bool) -> int:
        """Reports what stopped the scan at `position`, a string or a number; returns
        where to go on."""
        if data[position : position + 1] == b'"':
            return self.string_at(data, position, final)
        return self.number_at(data, position)

    def string_at(self, data: bytes, position: int, final: bool) -> int:
        whole = _ANY_STRING.match(data, position)
        if whole is None:  # unfinished in this block
            if final:
                raise _End  # never finished: the parser says so
            if len(data) - position > MAX_STRING:
                self.error(
                    data, position, f"a string of more than {MAX_STRING:,} bytes; no inventory field is that long"
                )
                raise _End
            raise _MoreData(position)
        paired_low_at = -1
        for escape in _ESCAPE.finditer(data, position, whole.end()):
            text = escape.group()
            if len(text) != 6 or text[2:3] not in b"dD" or text[3:4] not in b"89abcdefABCDEF":
                continue
            if text[3:4] in b"89abAB" and _LOW_ESCAPE.match(data, escape.end()):
                paired_low_at = escape.end()
            elif escape.start() != paired_low_at:
                self.error(
                    data,
                    escape.start(),
                    f'"{text.decode()}" is half of a UTF-16 surrogate pair, alone: it stands for no character',
                )
        return whole.end()

    def number_at(self, data: bytes, position: int) -> int:
        """Reports a number too long (the expression takes any shorter one)."""
        end = _run_end(_NUMBER_RUN, data, position)
        self.error(data, position, f"a number of more than {MAX_NUMBER} characters; no inventory field is that long")
        # It may go on in the next block: skipped there, never held whole.
        self.in_long_number = end == len(data)
        return end

    def error(self, data: bytes, position: int, message: str) -> None:
        newline = data.rfind(b"\n", 0, position)
        line_start = self.offset + newline + 1 if newline >= 0 else self.line_start
        line = self.line + data.count(b"\n", 0, position)
        self.report(f"line {line}, column {self.offset + position - line_start + 1}", message)

    def advance(self, data: bytes, done: int) -> None:
        """Moves past the first `done` bytes of `data`."""
        newline = data.rfind(b"\n", 0, done)
        if newline >= 0:
            self.line += data.count(b"\n", 0, done)
            self.line_start = self.offset + newline + 1
        self.offset += done
