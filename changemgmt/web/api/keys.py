"""API keys: made, listed and revoked by `changemgmt keys`, checked on every API request.

A key is `cm_` and 43 characters of a CSPRNG (256 bits): only its SHA-256 is stored, and
looked up by that hash (a unique index), so no stored secret is compared character by
character (STANDARDS F3, F4). Its first characters are kept apart, not secret, so a
key seen in a config file can be told from the others. Its name is the actor the audit
trail records for what it does."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, NotFound, Problems
from changemgmt.domain.roles import check_role  # one ladder for keys and users
from changemgmt.domain.text import one_line
from changemgmt.store.models import ApiKey, AuditEntry

KEY_PREFIX = "cm_"
SHOWN_PREFIX = 10  # "cm_" and 7 characters of the secret
NAME_MAX = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")


def check_key_name(raw: object) -> str:
    name = one_line(raw, "name", NAME_MAX, required=True)
    if not _NAME.fullmatch(name):
        raise DomainError("name", "may hold letters, digits and . _ @ - only, starting with a letter or digit")
    return name


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(session: Session, name: str, role: str, actor: str, now: datetime) -> tuple[ApiKey, str]:
    """A new key and its secret, which is shown to the caller once and never again.
    Raises DomainError naming each bad field (name, role), having written nothing."""
    problems = Problems()
    with problems.checking():
        name = check_key_name(name)
        if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
            raise DomainError("name", f"a key named {name} already exists (names are never reused, revoked ones too)")
    with problems.checking():
        checked_role = check_role(role)
    problems.raise_any()
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        role=checked_role.value,
        prefix=secret[:SHOWN_PREFIX],
        secret_hash=secret_hash(secret),
        created_at=now,
        created_by=actor,
    )
    session.add(key)
    _audit(session, key, "create", actor, now)
    return key, secret


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def revoke_key(session: Session, name: str, actor: str, now: datetime) -> ApiKey:
    """Revokes the key at once: its next request is answered 401."""
    key = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise NotFound(f"no API key named {name}")
    if key.revoked_at is None:
        key.revoked_at = now
        _audit(session, key, "revoke", actor, now)
    return key


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The key whose secret this is, if it exists and is not revoked."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.secret_hash == secret_hash(secret)))
    return key if key is not None and key.revoked_at is None else None


def _audit(session: Session, key: ApiKey, action: str, actor: str, now: datetime) -> None:
    session.add(
        AuditEntry(
            at=now, actor=actor, entity="api_key", entity_key=key.name, action=action, details={"role": key.role}
        )
    )
