"""What a customer's user may see and do (SPEC §7): an access grant ties the user to an
enterprise ID (the parent account and every account below it) or to one account, with
permissions. Pure rules over the grants and the account tree; the database is read by
changemgmt.users.access."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from changemgmt.domain.errors import DomainError


class Permission(str, Enum):
    VIEW = "view"  # view maintenance
    CONTACTS = "contacts"  # manage notification contacts and their preferences
    USERS = "users"  # manage the enterprise's portal users


class Scope(str, Enum):
    ENTERPRISE = "enterprise"  # the account and every account below it
    ACCOUNT = "account"  # that account alone


def check_permissions(raw: Iterable[object]) -> frozenset[Permission]:
    """The permissions named; VIEW is implied by any other (nothing is managed unseen)."""
    found = set()
    for name in raw:
        try:
            found.add(Permission(name))
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise DomainError("permission", f"{name!r} is not one of {known}") from None
    return frozenset(found | {Permission.VIEW})


@dataclass(frozen=True)
class Grant:
    customer_id: int
    scope: Scope
    permissions: frozenset[Permission]


@dataclass(frozen=True)
class Context:
    """What the user sees while one grant is chosen in the switcher: `root` is the granted
    account (the enterprise ID, or the single account), `accounts` every account it
    covers, `permissions` what it may do there."""

    root: int
    scope: Scope
    accounts: frozenset[int]
    permissions: frozenset[Permission]

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions


def below(root: int, children: Mapping[int, Iterable[int]]) -> frozenset[int]:
    """`root` and every account under it, at any depth (a cycle cannot loop)."""
    found, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def context_of(grant: Grant, children: Mapping[int, Iterable[int]]) -> Context:
    accounts = below(grant.customer_id, children) if grant.scope is Scope.ENTERPRISE else frozenset({grant.customer_id})
    return Context(grant.customer_id, grant.scope, accounts, grant.permissions)


def choose(grants: Iterable[Grant], wanted: int | None, default: int | None) -> Grant | None:
    """The grant to show: the one asked for, else the user's default, else the first;
    None when the user has no grant (or asked for one it lacks: never another's)."""
    by_root = {g.customer_id: g for g in grants}
    if wanted is not None:
        return by_root.get(wanted)
    if default is not None and default in by_root:
        return by_root[default]
    return next(iter(by_root.values()), None)
