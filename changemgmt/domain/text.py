"""Text as people enter it (SPEC §1, §2): one-line fields, multi-line fields, display
names and email addresses, each with a length limit.

Whatever a user types reaches email headers and bodies, .ics files, feeds and terminals,
so no control character gets in: one-line fields refuse every one; multi-line fields
keep only LF and TAB (CRLF and CR are read as LF). Refused everywhere: C0 and C1
controls (ESC starts terminal escape sequences), DEL, U+2028/U+2029 (line breaks to
some readers), the bidirectional embedding, override and isolate controls (they make
text read differently from what it holds), and lone surrogates (no database stores them).
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from changemgmt.domain.errors import DomainError

# Length limits, in characters, of the text fields people enter (README, "Limits").
TITLE_MAX = 200
NAME_MAX = 200
DESCRIPTION_MAX = 10_000
REASON_MAX = 5_000
NOTES_MAX = 10_000
WORK_LOCATION_MAX = 500
PHONE_MAX = 50
EMAIL_MAX = 254

_BAD = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_ONE_LINE_BAD = re.compile(f"[\t\n{_BAD}]")
_MULTI_LINE_BAD = re.compile(f"[{_BAD}]")
# RFC 2047 encoded-word syntax: a mail client decodes it in a display name, so a name
# could show a different name, or an address, from what it holds.
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")


def _describe(char: str) -> str:
    if char == "\n":
        return "a line break"
    if char == "\t":
        return "a tab"
    name = unicodedata.name(char, "") if not "\ud800" <= char <= "\udfff" else "lone surrogate"
    return f"U+{ord(char):04X}" + (f" ({name.lower()})" if name else " (a control character)")


def _quoted(text: str) -> str:
    """The text quoted for a message, escaped and cut short when it is long."""
    return ascii(text) if len(text) <= 60 else ascii(text[:57])[:-1] + "...'"


def _bounded(value: str, field: str, limit: int, required: bool) -> str:
    if not value:
        if required:
            raise DomainError(field, "must not be empty")
        return value
    if len(value) > limit:
        raise DomainError(field, f"is {len(value):,} characters long; the limit is {limit:,}")
    return value


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DomainError(field, "must be text")
    return str(value)


def one_line(value: object, field: str, limit: int, *, required: bool = False) -> str:
    """The text without surrounding whitespace; refuses line breaks, tabs and every other
    control character, and text longer than `limit`."""
    text = _text(value, field).strip()
    if not text.isprintable():  # the fast path: printable text holds nothing refused
        bad = _ONE_LINE_BAD.search(text)
        if bad:
            raise DomainError(
                field, f"must be one line of text without control characters; it contains {_describe(bad.group())}"
            )
    return _bounded(text, field, limit, required)


def multi_line(value: object, field: str, limit: int, *, required: bool = False) -> str:
    """The text with CRLF and CR read as LF, without surrounding whitespace; refuses every
    control character but LF and TAB, and text longer than `limit`."""
    text = _text(value, field).replace("\r\n", "\n").replace("\r", "\n").strip()
    bad = _MULTI_LINE_BAD.search(text)
    if bad:
        raise DomainError(field, f"must not contain control characters; it contains {_describe(bad.group())}")
    return _bounded(text, field, limit, required)


def display_name(value: object, field: str, limit: int = NAME_MAX, *, required: bool = False) -> str:
    """A name that may be shown beside an address (a contact's, a customer's): one line,
    and never RFC 2047 encoded-word syntax, which a mail client would decode."""
    text = one_line(value, field, limit, required=required)
    if "=?" in text and _ENCODED_WORD.search(text):
        raise DomainError(field, "must not contain '=?...?=' (email encoded-word syntax)")
    return text


def email_address(value: object, field: str) -> str:
    """A mailbox address (`local@domain`, no display name), checked for syntax only (no
    DNS look-up) by the email-validator library: no spaces, commas, line breaks or quotes,
    at most 64 characters before the @ (RFC 5321),
    a domain with a dot, ASCII before the @. Returned normalised: the domain in lower
    case and, for an internationalised domain, in its ASCII (IDNA) form."""
    text = _text(value, field).strip()
    if not text:
        raise DomainError(field, "must not be empty")
    if len(text) > EMAIL_MAX:
        raise DomainError(field, f"is longer than {EMAIL_MAX} characters")
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False, strict=True)
    except EmailNotValidError as exc:
        raise DomainError(field, f"{_quoted(text)} is not an email address: {exc}") from None
    return checked.ascii_email or checked.normalized
