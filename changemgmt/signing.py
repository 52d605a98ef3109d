"""Opaque, unforgeable tokens for links in emails (one-click unsubscribe, STANDARDS F16).

The key comes from SECRET_KEY; in the embedded mode one is made once and kept in
`var/secret_key`, so links in mail already sent keep working across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path

from changemgmt.config import Settings


def _make_key_file(path: Path) -> None:
    """Writes a new random key to `path`, unless one is there: whole or not at all (a
    crash never leaves an empty key file) and, with two processes, the first one wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


@lru_cache(maxsize=8)
def _key_file(path: Path) -> bytes:
    if not path.exists():
        _make_key_file(path)
    return path.read_text().strip().encode()


def secret_key(settings: Settings) -> bytes:
    """SECRET_KEY, or the key kept in var/secret_key (load_settings checked its length;
    one made here is 43 characters)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    return _key_file(settings.home / "var" / "secret_key")


def _mac(key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def unsubscribe_token(settings: Settings, contact_id: int) -> str:
    return f"{contact_id}.{_mac(secret_key(settings), 'unsubscribe', str(contact_id))}"


def contact_from_unsubscribe_token(settings: Settings, token: str) -> int | None:
    """The contact id a token names, or None for a forged or malformed token."""
    contact_id, _, mac = token.partition(".")
    if not contact_id.isdigit():
        return None
    expected = _mac(secret_key(settings), "unsubscribe", contact_id)
    return int(contact_id) if hmac.compare_digest(mac, expected) else None


def sign(settings: Settings, purpose: str, value: str) -> str:
    """`value` with a MAC that ties it to `purpose` and SECRET_KEY: `<value>.<mac>`.
    The value is readable by whoever holds the text; put nothing secret in it."""
    return f"{value}.{_mac(secret_key(settings), purpose, value)}"


def unsign(settings: Settings, purpose: str, signed: str) -> str | None:
    """The value `sign` signed for `purpose`, or None for a forged or altered text."""
    value, _, mac = signed.rpartition(".")
    if not value or not hmac.compare_digest(mac.encode(), _mac(secret_key(settings), purpose, value).encode()):
        return None
    return value
