"""Feed tokens: 256 random bits from `secrets`, written as 43 URL-safe characters.

A token names its file (calendars/<token>.ics), so whoever rebuilds the file must know
it. The database keeps it two ways: a SHA-256 to find the feed a URL names, and the
token sealed with a key derived from SECRET_KEY, so a copy of the database alone
reveals no feed URL (STANDARDS F1, F3; docs/serving-feeds.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from changemgmt.domain.errors import DomainError

TOKEN_BYTES = 32
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
_SALT_BYTES = 16


class SealError(DomainError):
    """A sealed token does not open with this key (SECRET_KEY changed?): an error the
    operator fixes, shown as one line naming SECRET_KEY and what to do."""

    def __init__(self, what: str = "a feed token", rotate: str = "changemgmt feeds rotate") -> None:
        super().__init__(
            "SECRET_KEY",
            f"{what} does not open with this key (was SECRET_KEY or var/secret_key "
            "changed?); restore the key it was made with, or give the feed a new URL "
            f"with `{rotate}`",
        )


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_token(text: str) -> bool:
    return TOKEN_PATTERN.fullmatch(text) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=")


def _pad(key: bytes, salt: bytes) -> bytes:
    # HMAC-SHA-256 as a pseudo-random function gives a 32-byte one-time pad per salt.
    return hmac.new(key, b"feed-token:" + salt, hashlib.sha256).digest()


def seal(token: str, key: bytes) -> str:
    """The token encrypted under `key` with a fresh random salt (URL-safe text)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    sealed = bytes(a ^ b for a, b in zip(_raw(token), _pad(key, salt)))
    return base64.urlsafe_b64encode(salt + sealed).decode()


def unseal(sealed: str, key: bytes, expected_hash: str) -> str:
    """The token `seal` encrypted; raises SealError unless it matches `expected_hash`."""
    data = base64.urlsafe_b64decode(sealed)
    salt, body = data[:_SALT_BYTES], data[_SALT_BYTES:]
    raw = bytes(a ^ b for a, b in zip(body, _pad(key, salt)))
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if not hmac.compare_digest(token_hash(token), expected_hash):
        raise SealError()
    return token
