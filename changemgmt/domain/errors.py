"""Errors the domain raises for bad input, each naming the field at fault."""
from __future__ import annotations


class DomainError(ValueError):
    """Input that breaks a rule. `field` names what is wrong, for the user to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TransitionError(DomainError):
    """A status change that the status machine does not allow."""


class NotFound(LookupError):
    """A GCR, customer, service or other record named by the user does not exist."""
