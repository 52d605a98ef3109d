"""What an import reports: bad rows (which reject the file) and warnings (which do not)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from changemgmt.domain.errors import DomainError

MAX_LISTED = 1000
_LAST = (1 << 30, 0)


class Place(str):
    """Where in a file a row is ("line 12", "services[3]"), which also knows its rank
    in the file, so that problems are listed in the file's order."""

    order: tuple[int, int]

    def __new__(cls, text: str, order: tuple[int, int]) -> Place:
        place = super().__new__(cls, text)
        place.order = order
        return place


@dataclass(frozen=True)
class RowError:
    """One problem in one row: `where` is "line 12" (CSV) or "services[12]" (JSON), or
    "file" for the file as a whole; `field` is empty when no one field is at fault."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        if not self.field:
            return f"{self.where}: {self.message}"
        return f"{self.where}: {self.field}: {self.message}"

    def as_domain_error(self) -> DomainError:
        """The same problem as a DomainError, whose field says where it is."""
        where = f"{self.where}: {self.field}" if self.field else self.where
        return DomainError(where, self.message)


class ImportFailed(DomainError):
    """The file was rejected and nothing was written. `problems` lists the bad rows (up
    to MAX_LISTED); `more` counts those left off the list."""

    def __init__(self, problems: list[RowError], more: int = 0) -> None:
        total = len(problems) + more
        noun = "problem" if total == 1 else "problems"
        super().__init__("file", f"{total} {noun} found; nothing was imported")
        self.problems = problems
        self.more = more

    @property
    def errors(self) -> list[DomainError]:
        """Every listed problem as a DomainError (the DomainError contract)."""
        return [problem.as_domain_error() for problem in self.problems]

    def lines(self) -> list[str]:
        """Every listed problem as one line of text, then a count of the rest."""
        listed = [str(problem) for problem in self.problems]
        if self.more:
            listed.append(f"... and {self.more} more")
        return listed

    def __str__(self) -> str:
        return "\n".join([*self.lines(), f"{self.field}: {self.message}"])


class Collector:
    """Keeps the first `limit` entries and counts the rest, so memory stays bounded."""

    def __init__(self, limit: int = MAX_LISTED) -> None:
        self.limit = limit
        self.items: list[RowError] = []
        self.more = 0

    def add(self, where: str, field: str, message: str) -> None:
        self.extend([RowError(where, field, message)])

    def extend(self, problems: Iterable[RowError]) -> None:
        for problem in problems:
            if len(self.items) < self.limit:
                self.items.append(problem)
            else:
                self.more += 1

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items) + self.more

    def failure(self) -> ImportFailed:
        """The problems listed in the order of the file (rows of the first kind first;
        problems of the file as a whole last)."""
        listed = sorted(self.items, key=lambda problem: getattr(problem.where, "order", _LAST))
        return ImportFailed(listed, self.more)
