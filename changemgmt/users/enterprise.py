"""An enterprise's own administrator (a user with the manage-users permission) manages
its portal users: who has access to its accounts, inviting someone new, changing and
removing their access. Never beyond the administrator's own grant: only accounts its
context covers, an enterprise-wide grant only from an enterprise-wide one, only
permissions it holds itself; and never its own access (another administrator does that)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from changemgmt.domain.access import Context, Permission, Scope
from changemgmt.domain.errors import DomainError, NotFound, Problems
from changemgmt.domain.text import NAME_MAX, display_name
from changemgmt.store.bulk import among
from changemgmt.store.models import AccessGrant, Customer, User
from changemgmt.users.access import grant_access, visible_customer
from changemgmt.users.accounts import UserKind, audit, create_user, find_user, normal_email


@dataclass(frozen=True)
class Access:
    customer: Customer
    scope: Scope
    permissions: frozenset[Permission]


@dataclass(frozen=True)
class PortalUser:
    user: User
    access: tuple[Access, ...]  # its grants within the context's accounts, no others


def portal_users(session: Session, context: Context) -> list[PortalUser]:
    """The users with a grant of any account the context covers, by email."""
    rows = session.execute(
        select(User, AccessGrant, Customer)
        .join(AccessGrant, AccessGrant.user_id == User.id)
        .join(Customer, Customer.id == AccessGrant.customer_id)
        .where(among(AccessGrant.customer_id, sorted(context.accounts)))
        .order_by(User.email, Customer.account)
    )
    found: dict[int, tuple[User, list[Access]]] = {}
    for user, grant, customer in rows:
        permissions = frozenset(Permission(p) for p in grant.permissions)
        found.setdefault(user.id, (user, []))[1].append(Access(customer, Scope(grant.scope), permissions))
    return [PortalUser(user, tuple(access)) for user, access in found.values()]


def check_grantable(
    session: Session,
    context: Context,
    account: str,
    scope: Scope,
    permissions: frozenset[Permission],
    problems: Problems | None = None,
) -> Customer:
    """The customer `account` names, when the context may grant it with this scope and
    these permissions; NotFound outside the context, DomainErrors beyond its rights (or
    added to `problems`, for the caller to raise with its own)."""
    customer = visible_customer(session, context, account)
    found = problems if problems is not None else Problems()
    if scope is Scope.ENTERPRISE and context.scope is not Scope.ENTERPRISE:
        found.add("scope", "your own access is to single accounts: you can grant single accounts only")
    beyond = sorted(p.value for p in permissions - context.permissions)
    if beyond:
        found.add("permissions", f"you cannot grant what you do not have yourself: {', '.join(beyond)}")
    if problems is None:
        found.raise_any()
    return customer


def invite(
    session: Session,
    context: Context,
    admin: User,
    *,
    email: str,
    name: str,
    account: str,
    scope: Scope,
    permissions: frozenset[Permission],
    now: datetime,
) -> tuple[User, bool]:
    """Gives `email` access to `account` (a new customer user when there is none);
    returns the user and whether it still needs an invitation (it has no password).
    DomainErrors name every field at fault; nothing is written then."""
    problems = Problems()
    check_grantable(session, context, account, scope, permissions, problems)
    with problems.checking():
        email = normal_email(email)
    with problems.checking():
        display_name(name, "name", NAME_MAX)
    problems.raise_any()
    user = find_user(session, email)
    if user is None:
        user = create_user(
            session,
            email=email,
            name=name,
            kind=UserKind.CUSTOMER,
            role=None,
            time_zone=admin.time_zone,
            actor=admin.email,
            now=now,
        )
    elif user.id == admin.id:
        raise DomainError("email", "that is you: another administrator changes your own access")
    grant_access(session, user, account, scope, permissions, admin.email, now)
    return user, user.password_hash is None and user.disabled_at is None


def _managed(session: Session, context: Context, admin: User, user_id: int, account: str) -> tuple[User, Customer]:
    customer = visible_customer(session, context, account)
    user = session.get(User, user_id)
    grant = session.scalar(
        select(AccessGrant.id).where(AccessGrant.user_id == user_id, AccessGrant.customer_id == customer.id)
    )
    if user is None or grant is None:
        raise NotFound(f"no access of user {user_id} to {account}")
    if user.id == admin.id:
        raise DomainError("user", "you cannot change your own access: another administrator does that")
    return user, customer


def change_access(
    session: Session,
    context: Context,
    admin: User,
    user_id: int,
    account: str,
    scope: Scope,
    permissions: frozenset[Permission],
    now: datetime,
) -> None:
    user, _ = _managed(session, context, admin, user_id, account)
    check_grantable(session, context, account, scope, permissions)
    grant_access(session, user, account, scope, permissions, admin.email, now)


def remove_access(session: Session, context: Context, admin: User, user_id: int, account: str, now: datetime) -> None:
    """Takes away the user's grant of `account`; the user stays (other grants, its sign-in)."""
    user, customer = _managed(session, context, admin, user_id, account)
    session.execute(delete(AccessGrant).where(AccessGrant.user_id == user.id, AccessGrant.customer_id == customer.id))
    if user.default_enterprise_id == customer.id:
        user.default_enterprise_id = None
    audit(session, user, "revoke", admin.email, now, {"account": account})
