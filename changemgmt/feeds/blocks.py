"""A feed file is its calendar's header, one VEVENT block per event in (DTSTART, UID)
order, and END:VCALENDAR. Holding events as serialized blocks lets a feed be assembled
from events built once (a child account's events also go into its enterprise's feed) and
lets the internal feed be updated one GCR at a time, reading the other GCRs' blocks back
from its file. Either way the bytes are those of `calendar_bytes(feed_calendar(events))`.

Blocks are found by content lines (RFC 5545 §3.1), never by substring: a text value may
hold "END:VEVENT" (a LOCATION of "END:VEVENT" is written `LOCATION:END:VEVENT`), but
only a content line that is exactly BEGIN:VEVENT or END:VEVENT delimits an event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event

from changemgmt.content.ical import calendar_bytes
from changemgmt.domain.retention import kept

UTC = UTC
END_CALENDAR = b"END:VCALENDAR\r\n"
_STAMP = "%Y%m%dT%H%M%SZ"
_WANTED = {"UID", "DTSTART", "DTEND", "STATUS", "LAST-MODIFIED"}
_INTERNAL_UID = re.compile(r"(?P<number>.+)-W(?P<window>\d+)@[^@]*")
# A whole content line BEGIN:VEVENT or END:VEVENT: it starts a physical line (at the
# start of the data or after a CRLF), and the physical line after it does not continue
# it (a continuation line starts with a space or a tab). Text values never hold a CRLF:
# they are escaped (a line break is written as the two characters \n).
_DELIMITER = re.compile(rb"(?:\A|(?<=\r\n))(BEGIN|END):VEVENT\r\n(?![ \t])")


@dataclass(frozen=True)
class Block:
    """One serialized VEVENT and what ordering and retention need to know of it."""

    uid: str
    start: str  # DTSTART as written, e.g. 20261201T070000Z: sorts chronologically
    end: datetime
    cancelled: bool
    modified: datetime  # LAST-MODIFIED
    data: bytes

    @property
    def order(self) -> tuple[str, str]:
        return self.start, self.uid


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\;,])", r"\1", text)


def unfold(data: bytes) -> list[bytes]:
    """The content lines of CRLF-terminated iCalendar data, unfolded (RFC 5545 §3.1:
    a CRLF followed by one space or tab is removed)."""
    if not data.endswith(b"\r\n"):
        raise ValueError("iCalendar data must end with CRLF")
    return data.replace(b"\r\n ", b"").replace(b"\r\n\t", b"")[:-2].split(b"\r\n")


def parse_block(data: bytes) -> Block:
    """Reads the properties a Block needs from one serialized VEVENT; raises ValueError
    unless it is one VEVENT with each of them at most once."""
    lines = unfold(data)
    if lines[0] != b"BEGIN:VEVENT" or lines[-1] != b"END:VEVENT":
        raise ValueError("not a VEVENT")
    values: dict[str, str] = {}
    for line in lines[1:-1]:
        if line in (b"BEGIN:VEVENT", b"END:VEVENT"):
            raise ValueError("a VEVENT inside a VEVENT")
        # A property name holds neither ";" nor ":", so the text before the first of them
        # is the name, whatever the parameters and the value hold. The properties read
        # here have no parameters: their value follows the first ":".
        name, _, value = line.decode().partition(":")
        name = name.split(";", 1)[0].upper()
        if name in _WANTED:
            if name in values:
                raise ValueError(f"a VEVENT with two {name} properties")
            values[name] = value
    return Block(
        uid=_unescape(values["UID"]),
        start=values["DTSTART"],
        end=_instant(values["DTEND"]),
        cancelled=values.get("STATUS") == "CANCELLED",
        modified=_instant(values["LAST-MODIFIED"]),
        data=data,
    )


def _instant(value: str) -> datetime:
    return datetime.strptime(value, _STAMP).replace(tzinfo=UTC)


def block_of(event: Event) -> Block:
    return parse_block(event.to_ical())


def _delimiters(data: bytes) -> list[re.Match[bytes]]:
    return list(_DELIMITER.finditer(data))


def split_feed(data: bytes) -> list[Block]:
    """The event blocks of a feed file this module assembled; raises ValueError when its
    BEGIN:VEVENT and END:VEVENT lines do not pair up (a damaged file)."""
    blocks = []
    delimiters = _delimiters(data)
    if len(delimiters) % 2:
        raise ValueError("unbalanced BEGIN:VEVENT and END:VEVENT lines")
    for begin, end in zip(delimiters[::2], delimiters[1::2]):
        if begin.group(1) != b"BEGIN" or end.group(1) != b"END":
            raise ValueError("BEGIN:VEVENT and END:VEVENT lines out of order")
        blocks.append(parse_block(data[begin.start() : end.end()]))
    return blocks


def assemble(header: Calendar | bytes, blocks: Iterable[Block]) -> bytes:
    """The feed file: `header` (a calendar without events, or its bytes) with the blocks
    in order."""
    empty = header if isinstance(header, bytes) else calendar_bytes(header)
    if not empty.endswith(END_CALENDAR):
        raise ValueError("a feed header must end with END:VCALENDAR")
    body = b"".join(block.data for block in sorted(blocks, key=lambda b: b.order))
    return empty[: -len(END_CALENDAR)] + body + END_CALENDAR


def internal_gcr_number(uid: str) -> str | None:
    """The GCR number of an internal feed event's UID (`<GCR>-W<n>@<domain>`)."""
    match = _INTERNAL_UID.fullmatch(uid)
    return match.group("number") if match else None


def keeps(block: Block, cutoff: datetime) -> bool:
    return kept(block.end, block.cancelled, block.modified, cutoff)
