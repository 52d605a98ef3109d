"""What a change manager may do, by role (SPEC §7): a viewer reads, a change manager
also changes GCRs and deliveries, an admin also manages the inventory, keys and users.
One ladder for API keys and for users who sign in."""

from __future__ import annotations

from enum import Enum

from changemgmt.domain.errors import DomainError


class Role(str, Enum):
    VIEWER = "viewer"
    CHANGE_MANAGER = "change_manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


def check_role(raw: object) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise DomainError("role", f"must be one of {', '.join(r.value for r in Role)}") from None
