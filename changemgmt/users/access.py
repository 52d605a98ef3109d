"""Access grants in the database: giving a customer user an enterprise ID or an account,
and reading back what it may see (domain.access holds the rules)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.domain.access import Context, Grant, Permission, Scope, choose, context_of
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.store.models import AccessGrant, Customer, User
from changemgmt.users.accounts import UserKind, audit


def grant_access(
    session: Session,
    user: User,
    account: str,
    scope: Scope,
    permissions: frozenset[Permission],
    actor: str,
    now: datetime,
) -> AccessGrant:
    """Gives `user` (a customer user) `account` as an enterprise ID or alone; a second
    grant of the same account replaces the first."""
    if user.kind != UserKind.CUSTOMER.value:
        raise DomainError("user", f"{user.email} is a change-management user; access grants are for customer users")
    customer = session.scalar(select(Customer).where(Customer.account == account))
    if customer is None:
        raise NotFound(f"no customer with account {account}")
    grant = session.scalar(
        select(AccessGrant).where(AccessGrant.user_id == user.id, AccessGrant.customer_id == customer.id)
    )
    if grant is None:
        grant = AccessGrant(user_id=user.id, customer_id=customer.id, created_at=now, created_by=actor)
        session.add(grant)
    grant.scope = scope.value
    grant.permissions = sorted(p.value for p in permissions)
    if user.default_enterprise_id is None:
        user.default_enterprise_id = customer.id
    session.flush()
    details = {"account": account, "scope": scope.value, "permissions": grant.permissions}
    audit(session, user, "grant", actor, now, details)
    return grant


def grants_of(session: Session, user: User) -> list[Grant]:
    """The user's grants, in the order its switcher lists them (by account number)."""
    rows = session.execute(
        select(AccessGrant.customer_id, AccessGrant.scope, AccessGrant.permissions)
        .join(Customer, Customer.id == AccessGrant.customer_id)
        .where(AccessGrant.user_id == user.id)
        .order_by(Customer.account)
    )
    return [Grant(c, Scope(s), frozenset(Permission(p) for p in perms)) for c, s, perms in rows]


def _children(session: Session) -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for child, parent in session.execute(
        select(Customer.id, Customer.parent_id).where(Customer.parent_id.is_not(None))
    ):
        if parent is not None:  # as the WHERE has it; for the type
            children[parent].append(child)
    return children


def context_for(session: Session, user: User, root_id: int | None = None) -> Context | None:
    """What the user sees under the grant of account `root_id` (None: its default, else
    its first); None when it has no such grant, or is not a customer user."""
    if user.kind != UserKind.CUSTOMER.value or user.disabled_at is not None:
        return None
    grant = choose(grants_of(session, user), root_id, user.default_enterprise_id)
    return context_of(grant, _children(session)) if grant else None


def roots(session: Session, user: User) -> list[Customer]:
    """The accounts of the user's grants (the enterprise switcher's choices)."""
    ids = [g.customer_id for g in grants_of(session, user)]
    return _customers(session, ids)


def _customers(session: Session, ids: Iterable[int]) -> list[Customer]:
    wanted = list(ids)
    found = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(wanted)))} if wanted else {}
    return [found[i] for i in wanted if i in found]


def visible_customer(session: Session, context: Context, account: str) -> Customer:
    """The customer `account` names if the context covers it; NotFound otherwise, the
    same answer as for an account that does not exist (never "forbidden")."""
    customer = session.scalar(select(Customer).where(Customer.account == account))
    if customer is None or customer.id not in context.accounts:
        raise NotFound(f"no account {account}")
    return customer
