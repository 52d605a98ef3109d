"""One cell at a time: turns a raw value (a CSV string or a JSON scalar) into what we store,
or raises BadValue saying what is wrong with it.

Text follows the rules of `changemgmt.domain.text`, the one source of truth for what a
person may type: one-line cells refuse every control character, multi-line cells (a
location's address) keep only LF and TAB, names shown beside an address refuse email
encoded-word syntax, and every text column has a length limit. The parsers here only add
fast paths for the common case, which must agree with those rules (tests check they do).

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

import email_validator

from changemgmt.domain import text as rules
from changemgmt.domain.errors import DomainError
from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind

FORMULA_STARTS = frozenset("=+-@\t\r")
NOTICE_KINDS_MAX = 200
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_KIND_SEPARATORS = re.compile(r"[\s,;]+")
_TRUE = frozenset({"true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n"})
_KINDS = {kind.value: kind for kind in NoticeKind}
_KIND_ORDER = {kind.value: index for index, kind in enumerate(NoticeKind)}
# The common shape of an address, which email-validator always accepts unchanged but for
# the case of its domain: ASCII letters, digits and "_+-" in dot-separated atoms before
# the @; LDH labels of at most 63 characters after it, no "--" (which IDNA reserves), and
# a top-level domain of letters. Anything else goes to email-validator itself.
_PLAIN_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9_+-]{1,64}(?:\.[A-Za-z0-9_+-]{1,64})*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


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


def _number_as_text(raw: object) -> object:
    # A JSON number with a fraction comes as a Decimal, kept as written ("1.10").
    return str(raw) if raw.__class__ is Decimal else raw


def text(limit: int, *, required: bool = False, multiline: bool = False, name: bool = False):
    """A parser for a text cell of at most `limit` characters: one line (the default),
    several (`multiline`), or a name that may be shown beside an email address (`name`)."""
    rule = rules.multi_line if multiline else rules.display_name if name else rules.one_line

    def by_the_rule(raw: object) -> str:
        try:
            return rule(_number_as_text(raw), "", limit, required=required)
        except DomainError as exc:
            raise BadValue(exc.message) from None

    # The fast paths: printable text holds no control character (nor LF, TAB or CR),
    # so every rule keeps it as it is, and only its length, emptiness and, for a name,
    # encoded-word syntax remain to check. Anything else is left to the rule.
    def parse(raw: object) -> str:
        if raw.__class__ is str:
            value = raw.strip()
            if value.isprintable() and len(value) <= limit and (value or not required):
                return value
        return by_the_rule(raw)

    def parse_name(raw: object) -> str:
        if raw.__class__ is str:
            value = raw.strip()
            if value.isprintable() and len(value) <= limit and (value or not required) and "=?" not in value:
                return value
        return by_the_rule(raw)

    return parse_name if name else parse


def optional_key(limit: int):
    """A reference to another row's key; blank gives None."""
    parse_text = text(limit)

    def parse(raw: object) -> str | None:
        return parse_text(raw) or None

    return parse


def email(raw: object) -> str:
    """An address checked by `changemgmt.domain.text.email_address` (email-validator,
    syntax only) and stored as written but for its domain, which is case-insensitive and
    kept in lower case (IDNA ASCII form): `Bob@Example.COM` is the same contact as
    `Bob@example.com`, and `NOC@x.example` stays `NOC@x.example`."""
    value = raw.strip() if raw.__class__ is str else _number_as_text(raw)
    plain = _plain_email(value) if value.__class__ is str else None
    if plain is not None:
        return plain
    try:
        checked = rules.email_address(value, "email")
    except DomainError as exc:
        raise BadValue(exc.message) from None
    # email-validator lower-cases RFC 2142 mailbox names ("NOC" -> "noc"); earlier
    # imports stored the part before the @ as written, so it still is.
    return f"{str(value).strip().rpartition('@')[0]}@{checked.rpartition('@')[2]}"


def optional_email(raw: object) -> str:
    """An address as `email` checks it, or "" for none (an account lead's)."""
    if raw is None or (raw.__class__ is str and not raw.strip()):
        return ""
    return email(raw)


def _plain_email(value: str) -> str | None:
    """`value` with its domain in lower case if it has the plain shape email-validator
    accepts without a change (see _PLAIN_EMAIL); None to ask email-validator."""
    match = _PLAIN_EMAIL.fullmatch(value)
    if match is None or len(value) > rules.EMAIL_MAX or len(match["local"]) > 64:
        return None
    domain = match["domain"].lower()
    if "--" in domain or len(domain) > 253 or _special_use(domain):
        return None
    return f"{match['local']}@{domain}"


def _special_use(domain: str) -> bool:
    """Whether email-validator refuses `domain` as a special-use name ("x.test")."""
    names = email_validator.SPECIAL_USE_DOMAIN_NAMES
    while domain not in names:
        domain = domain.partition(".")[2]
        if not domain:
            return False
    return True


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
        if len(raw) > len(_KINDS):
            raise BadValue(f"lists {len(raw)} kinds; there are {len(_KINDS)}")
        names = [as_text(item).lower() for item in raw]
        if not names:
            raise BadValue("is an empty list; leave it blank (null) for every kind")
    else:
        value = as_text(raw).lower()
        if len(value) > NOTICE_KINDS_MAX:
            raise BadValue(f"is longer than {NOTICE_KINDS_MAX} characters")
        names = [name for name in _KIND_SEPARATORS.split(value) if name]
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
