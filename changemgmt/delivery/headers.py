"""Header fields written as they go on the wire (RFC 5322, RFC 2047, RFC 2369, RFC 8058).

Python's email package parses again and refolds whatever it is given, and both steps
change what readers see: an encoded word found in a display name is decoded and written
back bare (a contact named `=?utf-8?b?...?=` that decodes to `evil@evil.example, x` becomes
a second address), and a word longer than a line, such as an unsubscribe URI or a long
message id, is folded into an encoded word (`List-Unsubscribe: =?utf-8?q?=3Cmailto...`),
which no mailbox provider reads as a URI. So every header a notice sets is written here,
in its final ASCII form, and handed to the message as a header object (email.policy: a
value with a `name` and a `fold` method is folded by calling `fold`), so the generator
writes it exactly as written:

- names are atoms, a quoted string, or (non-ASCII text, or anything holding `=?`) encoded
  words of the literal text, so every reader decodes the name that was stored;
- unstructured text (Subject) is plain ASCII folded at spaces, or encoded words;
- URIs, message ids and other tokens are never encoded: a line longer than 78 characters
  is allowed (RFC 5322 §2.1.1 says SHOULD), one longer than 998 is refused.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from itertools import groupby

MAX_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD be at most 78 characters
HARD_LIMIT = 998  # ... and MUST be at most 998
ENCODED_WORD_BYTES = 45  # of UTF-8 text per encoded word: 60 base64 characters, 72 in all
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # atext (RFC 5322 §3.2.3)
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
_TOKEN = re.compile(r"[!-~]+")  # one run of visible ASCII
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")  # what email_address() lets in


class WrittenHeader(str):
    """A header object (email.policy's contract: `name` and `fold`) whose folded form is
    the lines given, joined by folding whitespace. Its string value is the unfolded text."""

    name: str
    lines: tuple[str, ...]

    def __new__(cls, name: str, lines: Sequence[str]) -> WrittenHeader:
        lines = tuple(lines)
        for number, line in enumerate(lines):
            if not _PRINTABLE_ASCII.fullmatch(line):
                raise ValueError(f"{name}: header text must be printable ASCII, got {line!r}")
            width = len(line) + (len(name) + 2 if number == 0 else 1)
            if width > HARD_LIMIT:
                raise ValueError(f"{name}: a header line of {width} characters is over {HARD_LIMIT}")
        value = super().__new__(cls, " ".join(lines))
        value.name, value.lines = name, lines
        return value

    def fold(self, *, policy) -> str:
        return f"{self.name}: " + f"{policy.linesep} ".join(self.lines) + policy.linesep


def header_safe(text: object) -> str:
    """One line: CR, LF and runs of whitespace become single spaces (STANDARDS F12)."""
    return " ".join(str(text).split())


def has_encoded_word_syntax(text: str) -> bool:
    """True when a reader could take part of `text` for an RFC 2047 encoded word."""
    return "=?" in text


def _encoded_words(text: str) -> list[str]:
    """The text as UTF-8 "B" encoded words (RFC 2047), each at most 72 characters and
    holding whole characters (§5), so each fits on a folded line and any reader decodes
    the literal text; base64 uses only characters a phrase may hold."""
    words, chunk = [], ""
    for char in text:
        if chunk and len((chunk + char).encode()) > ENCODED_WORD_BYTES:
            words.append(_b_word(chunk))
            chunk = ""
        chunk += char
    return words + [_b_word(chunk)]


def _b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode("ascii") + "?="


def _needs_encoding(word: str) -> bool:
    return has_encoded_word_syntax(word) or not _PRINTABLE_ASCII.fullmatch(word)


def _phrase_words(text: str) -> list[str]:
    """A display name as the words of a phrase (RFC 5322 §3.2.5): each run of words that
    needs encoding (non-ASCII, or holding `=?`) as encoded words, spaces inside the run
    encoded with it; each other run as atoms, or as one quoted string when a word holds
    a special such as "," or "<". Readers disagree on the space between two encoded words
    (RFC 2047 §6.2 drops it; Python's policy.default parser keeps it in a display name),
    so a run is one encoded word unless it is longer than one can hold."""
    out: list[str] = []
    for encode, run in groupby(text.split(" "), key=_needs_encoding):
        words = list(run)
        if encode:
            out += _encoded_words(" ".join(words))
        elif all(_ATOM.fullmatch(word) for word in words):
            out += words
        else:
            out.append('"' + " ".join(words).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return out


def _fold_words(name: str, words: list[str]) -> list[str]:
    """Words joined by spaces into lines of at most 78 characters where they fit."""
    lines = [words[0]]
    for word in words[1:]:
        width = len(lines[-1]) + 1 + len(word) + (len(name) + 2 if len(lines) == 1 else 1)
        if width <= MAX_LINE:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def mailbox(name: str, display_name: str, address: str) -> WrittenHeader:
    """`From`/`To`/`Reply-To` naming exactly one mailbox, whatever the display name holds."""
    address = address.strip()
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"{name}: {address!r} is not an ASCII email address")
    text = header_safe(display_name)
    if not text:
        return WrittenHeader(name, [address])
    return WrittenHeader(name, _fold_words(name, _phrase_words(text) + [f"<{address}>"]))


def unstructured(name: str, text: str) -> WrittenHeader:
    """Free text (Subject): plain ASCII folded at spaces, or encoded words of the literal
    text when it is not ASCII, holds `=?`, or has a word no line could carry."""
    text = header_safe(text)
    words = text.split(" ")
    if _needs_encoding(text) or max(map(len, words)) > HARD_LIMIT - len(name) - 2:
        words = _encoded_words(text)
    return WrittenHeader(name, _fold_words(name, words))


def uri_list(name: str, uris: Sequence[str]) -> WrittenHeader:
    """`List-Unsubscribe` (RFC 2369): angle-bracketed URIs in plain ASCII, one per line,
    folded only between them (RFC 8058 needs the https URI readable as it is)."""
    for uri in uris:
        if not _TOKEN.fullmatch(uri) or "<" in uri or ">" in uri:
            raise ValueError(f"{name}: {uri!r} is not an ASCII URI")
    return WrittenHeader(name, [f"<{uri}>," for uri in uris[:-1]] + [f"<{uris[-1]}>"])


def token(name: str, value: str) -> WrittenHeader:
    """A header of one or more ASCII tokens (message ids, dates, keywords), never folded
    or encoded."""
    value = header_safe(value)
    if not value:
        raise ValueError(f"{name}: must not be empty")
    return WrittenHeader(name, [value])
