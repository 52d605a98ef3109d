"""Page cursors: opaque to clients (URL-safe base64 of a small JSON value), checked when
read back, so a made-up one is a 422 naming `cursor`, never a 500."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from changemgmt.domain.errors import DomainError


def encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise DomainError("cursor", "is not a cursor this API gave") from None


def offset_of(cursor: str | None) -> int:
    if cursor is None:
        return 0
    offset = decode(cursor)
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= 10**9:
        raise DomainError("cursor", "is not a cursor this API gave")
    return offset


def key_of(cursor: str | None, parts: int) -> tuple[str, ...] | None:
    if cursor is None:
        return None
    key = decode(cursor)
    if not (isinstance(key, list) and len(key) == parts and all(isinstance(k, str) for k in key)):
        raise DomainError("cursor", "is not a cursor this API gave")
    return tuple(key)
