"""Errors the domain raises for bad input, each naming the field at fault."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class DomainError(ValueError):
    """Input that breaks a rule. `field` names what is wrong, for the user to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def errors(self) -> list[DomainError]:
        """Every problem this error reports (one, or several for DomainErrors)."""
        return [self]


class DomainErrors(DomainError):
    """Several problems found in one input, reported together: `errors` lists each. It
    is a DomainError naming the first field, so callers that show one line still can."""

    def __init__(self, errors: Iterable[DomainError]) -> None:
        self._errors = [item for error in errors for item in error.errors]
        if not self._errors:
            raise ValueError("DomainErrors needs at least one error")
        first = self._errors[0]
        super().__init__(first.field, first.message)

    @property
    def errors(self) -> list[DomainError]:
        return list(self._errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self._errors)


class Problems:
    """Collects the problems of one input, so that every one is reported at once.

    problems = Problems()
    with problems.checking():
        title = check_title(raw_title)
    ...
    problems.raise_any()
    """

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(DomainError(field, message))

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Runs the block, keeping a DomainError it raises instead of letting it out."""
        try:
            yield
        except DomainError as error:
            self.errors.extend(error.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_any(self) -> None:
        """Raises the one problem found, or DomainErrors for several; nothing if none."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DomainErrors(self.errors)


class TransitionError(DomainError):
    """A status change that the status machine does not allow."""


class NotFound(LookupError):
    """A GCR, customer, service or other record named by the user does not exist."""
