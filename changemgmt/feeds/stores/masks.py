"""Keeping a feed's token out of the database that stores its bytes.

A feed's SOURCE property is its own URL, token included (STANDARDS A35), and the
database keeps tokens only hashed and sealed (docs/serving-feeds.md). So the database
store replaces the token's characters with `*` (the same length: the lines fold at the
same places, the size is unchanged) and records where they were; the web process, which
has the token from the URL it was asked for, puts them back. Only the calendar's own
properties are searched, before its first event: the token is ours to hide there, and
events never hold it (a GCR's text is not ours to rewrite).
"""

from __future__ import annotations

from collections.abc import Sequence

MASK = b"*"
_FIRST_EVENT = b"\r\nBEGIN:VEVENT\r\n"


def _unfolded(head: bytes) -> tuple[bytes, list[int]]:
    """`head` with its line folds (CRLF then a space or tab, RFC 5545 §3.1) removed, and
    the offset in `head` of each byte kept (-1 for the line break kept between lines)."""
    text = bytearray()
    offsets: list[int] = []
    at = 0
    for number, line in enumerate(head.split(b"\r\n")):
        if number and line[:1] in (b" ", b"\t"):
            text += line[1:]
            offsets += range(at + 1, at + len(line))
        else:
            if number:
                text += b"\n"
                offsets.append(-1)
            text += line
            offsets += range(at, at + len(line))
        at += len(line) + 2
    return bytes(text), offsets


def token_spans(data: bytes, token: str) -> list[int]:
    """Where the token's characters are in the calendar's properties, as a flat list
    [offset, length, offset, length, ...] (a fold splits a token in two runs)."""
    end = data.find(_FIRST_EVENT)
    text, offsets = _unfolded(data if end == -1 else data[:end])
    wanted, spans = token.encode("ascii"), []
    found = text.find(wanted)
    while found != -1:
        runs: list[int] = []  # of this occurrence only: a run never holds two
        for offset in offsets[found : found + len(wanted)]:
            if runs and runs[-2] + runs[-1] == offset:
                runs[-1] += 1
            else:
                runs += [offset, 1]
        spans += runs
        found = text.find(wanted, found + len(wanted))
    return spans


def mask(data: bytes, spans: Sequence[int]) -> bytes:
    masked = bytearray(data)
    for offset, length in zip(spans[::2], spans[1::2]):
        masked[offset : offset + length] = MASK * length
    return bytes(masked)


def unmask(masked: bytes, spans: Sequence[int], token: str) -> bytes:
    """The bytes `mask` was given, the token's characters put back in order."""
    data, wanted, used = bytearray(masked), token.encode("ascii"), 0
    for offset, length in zip(spans[::2], spans[1::2]):
        start = used % len(wanted)
        data[offset : offset + length] = wanted[start : start + length]
        used += length
    return bytes(data)
