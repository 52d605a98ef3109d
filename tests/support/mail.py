"""Reading emails the way receivers do: the raw header block as bytes on the wire, and
the addresses and text that Python's two parsers (policy.default and the compat32 one
most older tools use) decode from it."""

from __future__ import annotations

import email
import email.utils
import re
from email import policy
from email.header import decode_header, make_header

# Every header a notice's top level carries, and nothing else.
NOTICE_HEADERS = {
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
}


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def raw_fields(raw: bytes) -> list[tuple[str, str, list[str]]]:
    """(name, unfolded raw value, raw lines) of every top-level header field, in order."""
    fields: list[tuple[str, str, list[str]]] = []
    for line in header_block(raw).decode("ascii").split("\r\n"):
        if line[:1] in (" ", "\t"):
            name, value, lines = fields[-1]
            fields[-1] = (name, value + line, lines + [line])
        else:
            name, _, value = line.partition(":")
            fields.append((name, value.removeprefix(" "), [line]))
    return fields


def raw_field(raw: bytes, name: str) -> str:
    """The one field called `name`, unfolded, exactly as on the wire."""
    found = [value for field, value, _ in raw_fields(raw) if field.lower() == name.lower()]
    assert len(found) == 1, f"{name}: {len(found)} fields"
    return found[0]


def decoded(text: str) -> str:
    """An unstructured or phrase text as an RFC 2047 reader shows it."""
    return str(make_header(decode_header(text)))


def mailboxes(raw: bytes, name: str) -> dict[str, list[tuple[str, str]]]:
    """The (display name, address) pairs each parser reads in header `name`."""
    modern = email.message_from_bytes(raw, policy=policy.default)
    legacy = email.message_from_bytes(raw, policy=policy.compat32)
    return {
        "default": [(a.display_name, a.addr_spec) for a in modern[name].addresses],
        "compat32": [(decoded(n) if n else "", a) for n, a in email.utils.getaddresses(legacy.get_all(name, []))],
    }


def subjects(raw: bytes) -> dict[str, str]:
    """The subject each parser shows."""
    modern = email.message_from_bytes(raw, policy=policy.default)
    legacy = email.message_from_bytes(raw, policy=policy.compat32)
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", legacy["Subject"])
    return {"default": str(modern["Subject"]), "compat32": decoded(unfolded)}
