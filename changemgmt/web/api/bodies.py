"""Request bodies read as the CLI reads a GCR file: bytes -> one JSON object, refused with
a problem naming `body` when they are not UTF-8, not JSON, nested too deeply or not an
object (gcrs.input then checks the fields, as for a file); times in a query read as the
CLI's options."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from changemgmt.domain.errors import DomainError
from changemgmt.domain.text import one_line
from changemgmt.domain.windows import parse_bound


def json_object(raw: bytes, *, required: bool = True) -> dict[str, Any]:
    if not raw.strip():
        if required:
            raise DomainError("body", "a JSON object is needed")
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DomainError("body", f"byte {exc.start} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise DomainError("body", "not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, a number of over 4,300 digits
        raise DomainError("body", f"not valid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise DomainError("body", "must be one JSON object")
    return data


def iso(value: datetime | None) -> str | None:
    """A time as the API writes it: ISO 8601 in UTC, with Z."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def query_time(raw: str | None, field: str, *, end_of_day: bool = False) -> datetime | None:
    """A time in a query, as the CLI's --from/--to read them: UTC without an offset; a
    date alone is its midnight, or with `end_of_day` the end of that day."""
    if raw is None:
        return None
    return parse_bound(one_line(raw, field, 64, required=True), "UTC", field, end_of_day=end_of_day)
