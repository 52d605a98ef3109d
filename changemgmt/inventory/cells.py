"""One cell at a time: turns a raw value (a CSV string or a JSON scalar) into what we store,
or raises BadValue saying what is wrong with it.

Formula-looking cells (starting with = + - @ TAB CR, OWASP "CSV injection") are accepted
and stored as text: "-" and "+" start legitimate names and "@Home" was a real ISP. The
importer lists them as warnings, and every CSV export prefixes them with a single quote
(`neutralise`); reading a CSV undoes exactly that prefix (`unescape`), so an exported file
imports back unchanged.
"""
from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from changemgmt.domain.errors import DomainError
from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind

FORMULA_STARTS = frozenset("=+-@\t\r")
# Control characters, and lone surrogates (JSON "\ud800"), which no database can store.
_ONE_LINE_BAD = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_MULTILINE_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_KIND_SEPARATORS = re.compile(r"[\s,;]+")
_TRUE = frozenset({"true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n"})
_KINDS = {kind.value: kind for kind in NoticeKind}
_KIND_ORDER = {kind.value: index for index, kind in enumerate(NoticeKind)}


class BadValue(ValueError):
    """A cell we cannot store; the message is written for the person fixing the file."""


def shown(value: str) -> str:
    """A value quoted in a message, cut short so that a huge cell cannot flood it."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def neutralise(value: str) -> str:
    """The OWASP defence for a CSV cell: a leading quote makes spreadsheets show text."""
    return "'" + value if value and value[0] in FORMULA_STARTS else value


def unescape(value: str) -> str:
    """Undoes `neutralise` on a CSV cell we (or a spreadsheet) exported."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def as_text(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        return str(raw)
    raise BadValue("must be text")


def text(limit: int, *, required: bool = False, multiline: bool = False):
    """A parser for a text cell of at most `limit` characters."""
    bad = _MULTILINE_BAD if multiline else _ONE_LINE_BAD
    what = "control characters" if multiline else "line breaks or control characters"

    def parse(raw: object) -> str:
        value = raw.strip() if raw.__class__ is str else as_text(raw)
        if not value:
            if required:
                raise BadValue("is required")
            return value
        if len(value) > limit:
            raise BadValue(f"is longer than {limit} characters")
        # isprintable() is the fast path; what it refuses (NBSP too) gets the exact check.
        if not value.isprintable() and bad.search(value):
            raise BadValue(f"must not contain {what}")
        return value

    return parse


def optional_key(limit: int):
    """A reference to another row's key; blank gives None."""
    parse_text = text(limit)

    def parse(raw: object) -> str | None:
        return parse_text(raw) or None

    return parse


def email(raw: object) -> str:
    """An address as mail servers see it: the domain part is case-insensitive, so it is
    stored in lower case and `Bob@Example.COM` is the same contact as `Bob@example.com`."""
    value = as_text(raw)
    if not value:
        raise BadValue("is required")
    if len(value) > 254 or not _EMAIL.fullmatch(value) or not value.isprintable():
        raise BadValue(f"{shown(value)} is not an email address")
    local, domain = value.split("@")
    return f"{local}@{domain.lower()}"


@lru_cache(maxsize=1024)
def is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone(default: str | None):
    """An IANA time zone name; blank gives `default`."""

    def parse(raw: object) -> str | None:
        value = as_text(raw)
        if not value:
            return default
        if len(value) > 64 or not is_zone(value):
            raise BadValue(f"{shown(value)} is not an IANA time zone (e.g. Europe/Paris)")
        return value

    return parse


def flag(raw: object) -> bool:
    """true/false, yes/no, 1/0 in any case; blank is true."""
    if isinstance(raw, bool):
        return raw
    value = as_text(raw).lower()
    if not value or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadValue(f"{shown(value)} is not true or false (true/false, yes/no, 1/0)")


def country(raw: object) -> str:
    value = as_text(raw)
    if value and not _COUNTRY.fullmatch(value):
        raise BadValue(f"{shown(value)} is not a two-letter country code (ISO 3166, e.g. US)")
    return value.upper()


def notice_kinds(raw: object) -> list[str] | None:
    """Blank (or JSON null) is every kind, stored as None; otherwise the kinds named,
    separated by ';', ',' or spaces (a list in JSON), stored once each in a fixed order."""
    if isinstance(raw, list):
        names = [as_text(item).lower() for item in raw]
        if not names:
            raise BadValue("is an empty list; leave it blank (null) for every kind")
    else:
        names = [name for name in _KIND_SEPARATORS.split(as_text(raw).lower()) if name]
        if not names:
            return None
    unknown = [name for name in names if name not in _KINDS]
    if unknown:
        allowed = ", ".join(_KINDS)
        raise BadValue(f"{shown(unknown[0])} is not a notice kind ({allowed})")
    return sorted(set(names), key=_KIND_ORDER.__getitem__)


def impact(raw: object) -> str:
    """The least impact a contact wants mail for; blank is NO-IMPACT (everything)."""
    value = as_text(raw)
    if not value:
        return Impact.NO_IMPACT.value
    try:
        return Impact.parse(value[:40], "min_impact").value
    except DomainError as exc:
        raise BadValue(exc.message) from None
