"""Users: made, found, disabled, given a password. Every change is in the audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.roles import Role
from changemgmt.domain.text import NAME_MAX, display_name, email_address
from changemgmt.store.models import AuditEntry, Customer, User
from changemgmt.users.passwords import hash_password


class UserKind(str, Enum):
    STAFF = "staff"  # the provider's change management, with a Role
    CUSTOMER = "customer"  # a customer's staff, seeing what its access grants allow


def normal_email(raw: str) -> str:
    """The address as users are keyed: checked, and in lower case (people type their
    sign-in address in any case)."""
    return email_address(raw, "email").lower()


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    kind: UserKind,
    role: Role | None,
    time_zone: str,
    actor: str,
    now: datetime,
    password: str | None = None,
) -> User:
    """A new user; staff need a role, customers have none. Without a password the user
    signs in only after taking up an invitation."""
    address = normal_email(email)
    if kind is UserKind.STAFF and role is None:
        raise DomainError("role", "a change-management user needs a role")
    if kind is UserKind.CUSTOMER and role is not None:
        raise DomainError("role", "a customer user has no role; its access grants say what it may do")
    if session.scalar(select(func.count()).select_from(User).where(User.email == address)):
        raise DomainError("email", f"a user with email {address} already exists")
    user = User(
        email=address,
        name=display_name(name, "name", NAME_MAX),
        kind=kind.value,
        role=role.value if role else None,
        time_zone=time_zone,
        password_hash=hash_password(password) if password is not None else None,
        session_epoch=0,
        created_at=now,
        created_by=actor,
    )
    session.add(user)
    session.flush()
    audit(session, user, "create", actor, now, {"kind": kind.value, "role": user.role})
    return user


def set_password(session: Session, user: User, password: str, actor: str, now: datetime) -> None:
    """A new password; every session and invitation issued before it stops working."""
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    audit(session, user, "set_password", actor, now, {})


def disable_user(session: Session, user: User, actor: str, now: datetime) -> None:
    """The user can no longer sign in; its sessions end at their next request."""
    if user.disabled_at is None:
        user.disabled_at = now
        user.session_epoch += 1
        audit(session, user, "disable", actor, now, {})


def set_default_enterprise(session: Session, user: User, customer: Customer, actor: str, now: datetime) -> None:
    user.default_enterprise_id = customer.id
    audit(session, user, "set_default_enterprise", actor, now, {"account": customer.account})


def audit(session: Session, user: User, action: str, actor: str, now: datetime, details: dict[str, Any]) -> None:
    session.add(AuditEntry(at=now, actor=actor, entity="user", entity_key=user.email, action=action, details=details))
