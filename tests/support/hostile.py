"""Hostile text that the input rules (changemgmt/domain/text.py) still let in: iCalendar
delimiters and escapes, line breaks where a field may hold them, and long runs of
multi-byte characters that put fold points (75 octets) inside every kind of character.

Each strategy is filtered through the real rule of its field, so it yields exactly what
a user could store, and anything such a user could store may come out of it.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

from changemgmt.domain import text as rules
from changemgmt.domain.errors import DomainError

# Everything but what the rules refuse in every field: surrogates, C0 and C1 controls,
# U+2028/U+2029 and the bidirectional controls.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ALLOWED = st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters=_BIDI)

ONE_LINE = [
    "END:VEVENT",
    "BEGIN:VEVENT",
    "BEGIN:VCALENDAR",
    "END:VCALENDAR",
    "UID:evil@example.org",
    "DTSTART:19700101T000000Z",
    "STATUS:CANCELLED",
    ";",
    ",",
    "\\",
    ":",
    '"',
    "^",
    "\\n",
    "\\,",
    "\\;",
    "\\\\",
    "\\N",
    "C:\\Network",
    "=?utf-8?q?x?=",
    " ",
    "é",
    "東京",
    "😀",
    "\u00ad",
    "\u200d",
    "\ufeff",
]
MULTI_LINE = ONE_LINE + [
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\nEND:VEVENT\n",
    "\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n",
    "\r\n UID:evil@example.org",
    "\n\n",
    "\r\n\t",
]
# Runs long enough to be folded, of one- to four-octet characters.
_RUNS = st.builds(
    lambda char, count: char * count,
    st.sampled_from(["a", "é", "€", "東", "😀", ";", "\\"]),
    st.integers(min_value=1, max_value=90),
)


def _text(fragments: list[str], limit: int) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(fragments), st.text(ALLOWED, max_size=12), _RUNS)
    return st.lists(piece, max_size=8).map("".join).map(lambda value: value[:limit])


def _allowed_by(rule, value: str, limit: int, required: bool) -> bool:
    try:
        rule(value, "field", limit, required=required)
    except DomainError:
        return False
    return True


def one_line(limit: int, required: bool = False) -> st.SearchStrategy[str]:
    """Text a one-line field (a title, a location) accepts."""
    return _text(ONE_LINE, limit).filter(lambda v: _allowed_by(rules.one_line, v, limit, required))


def multi_line(limit: int, required: bool = False) -> st.SearchStrategy[str]:
    """Text a multi-line field (a description, a reason) accepts."""
    return _text(MULTI_LINE, limit).filter(lambda v: _allowed_by(rules.multi_line, v, limit, required))


def display_name(limit: int = rules.NAME_MAX, required: bool = False) -> st.SearchStrategy[str]:
    """A name shown beside an address (a contact's, a customer's)."""
    return _text(ONE_LINE, limit).filter(lambda v: _allowed_by(rules.display_name, v, limit, required))


def as_written(value: str) -> str:
    """A property value as icalendar writes it: its serializer decodes each value as
    utf-8-sig, so a value that starts with U+FEFF (an invisible character) loses it."""
    return value.removeprefix("\ufeff")


def texts(data: bytes) -> dict[str, dict[str, str]]:
    """The TEXT properties (SUMMARY, DESCRIPTION, LOCATION, NAME, X-WR-CALNAME) of a
    serialized calendar, by UID ("" for the calendar's own), unescaped as RFC 5545
    §3.3.11 says. icalendar's parser reads an escaped backslash followed by "N" as a line
    break, so text is compared through this reader, not through icalendar's values."""
    found: dict[str, dict[str, str]] = {"": {}}
    current = found[""]
    for line in re.sub(rb"\r\n[ \t]", b"", data).decode().split("\r\n"):
        head, _, value = line.partition(":")
        name = head.split(";", 1)[0].upper()
        if line == "BEGIN:VEVENT":
            current = {}
        elif name == "UID" and current is not found[""]:
            found[value] = current
        elif name in ("SUMMARY", "DESCRIPTION", "LOCATION", "NAME", "X-WR-CALNAME"):
            current[name] = unescape(value)
    return found


def unescape(value: str) -> str:
    """TEXT unescaped as RFC 5545 §3.3.11 says (one pass: an escaped backslash stays one)."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)
