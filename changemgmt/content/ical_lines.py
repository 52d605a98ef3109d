"""Content lines written as icalendar 7 writes them, without its per-character work.

icalendar folds each line character by character (140,000 lines for a 20,000-customer
fan-out); here a line is folded by slicing its UTF-8 octets. What icalendar does is
kept exactly, so the bytes are the same (tests/test_ical_lines.py checks them against
icalendar's own serialisation):
- a line holds at most 74 octets (a continuation line: a space and 74), never splitting
  a character;
- a fold never leaves a backslash or a caret last on a line: it moves to the next one;
- a value's leading U+FEFF is dropped (icalendar decodes values as utf-8-sig).
Parameters are written by icalendar itself, once per distinct parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from icalendar import Parameters, vText
from icalendar.parser import Contentline

UTC = UTC
LIMIT = 74  # octets before a fold: icalendar folds when a character would reach 75
_ESCAPED_LAST = (0x5C, 0x5E)  # "\\" and "^": never left last on a folded line


def escape_text(value: str) -> str:
    """TEXT as RFC 5545 §3.3.11 escapes it (content.ical.Text)."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def escape_icalendar_text(value: str) -> str:
    """TEXT as icalendar's vText escapes it (a UID's): it first reads a backslash and an
    "N" as a line break, which content.ical.Text does not."""
    text = value.replace("\\N", "\n").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: bytes) -> bytes:
    """One content line, folded, with its CRLF."""
    size = len(line)
    if size <= LIMIT:
        return line + b"\r\n"
    pieces = []
    start = 0
    while size - start > LIMIT:
        cut = start + LIMIT
        while line[cut] & 0xC0 == 0x80:  # inside a multi-octet character: fold before it
            cut -= 1
        if line[cut - 1] in _ESCAPED_LAST and cut - 1 > start:
            cut -= 1
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return b"\r\n ".join(pieces) + b"\r\n"


def text_line(name: str, value: str) -> bytes:
    """`NAME:value` for a TEXT value, escaped and folded."""
    return fold(f"{name}:{escape_text(value).removeprefix(chr(0xFEFF))}".encode())


def raw_line(name: str, value: str) -> bytes:
    """`NAME:value` for a value written as it is (an integer, a token, a stamp)."""
    return fold(f"{name}:{value}".encode())


def stamp_text(value: datetime) -> str:
    """A UTC DATE-TIME as icalendar writes one: to the second, with Z."""
    utc = value.astimezone(UTC)
    return f"{utc.year:04d}{utc.month:02d}{utc.day:02d}T{utc.hour:02d}{utc.minute:02d}{utc.second:02d}Z"


@lru_cache(maxsize=1024)
def parameter_prefix(name: str, parameters: tuple[tuple[str, str], ...]) -> str:
    """`NAME;PARAM=value:` as icalendar writes it (its quoting and RFC 6868 escaping).
    Cached: such parameters repeat across customers."""
    return str(Contentline.from_parts(name, Parameters(dict(parameters)), vText("")))
