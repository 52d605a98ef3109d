"""Passwords, hashed with Argon2id by argon2-cffi (its defaults follow RFC 9106)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from changemgmt.domain.errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte of "password" is work an attacker would love to hand us


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def check_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise DomainError("password", f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise DomainError("password", f"must be at most {MAX_LENGTH} characters long")
    return password


def hash_password(password: str) -> str:
    return _hasher().hash(check_password(password))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash (False when there is none yet)."""
    if stored is None or len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(stored)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("not anyone's password")


def spend_verify_time(password: str) -> None:
    """Verifies against a hash nobody has, for an unknown address: a wrong address then
    costs as much time as a wrong password and does not tell which addresses have users."""
    verify_password(_dummy_hash(), password)
