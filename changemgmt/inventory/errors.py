"""What an import reports: bad rows (which reject the file) and warnings (which do not)."""
from __future__ import annotations

from dataclasses import dataclass

from changemgmt.domain.errors import DomainError

MAX_LISTED = 1000


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


class ImportFailed(DomainError):
    """The file was rejected and nothing was written. `errors` lists the bad rows (up to
    MAX_LISTED); `more` counts those left off the list."""

    def __init__(self, errors: list[RowError], more: int = 0) -> None:
        total = len(errors) + more
        noun = "problem" if total == 1 else "problems"
        super().__init__("file", f"{total} {noun} found; nothing was imported")
        self.errors = errors
        self.more = more

    def lines(self) -> list[str]:
        """Every listed problem as one line of text, then a count of the rest."""
        listed = [str(error) for error in self.errors]
        if self.more:
            listed.append(f"... and {self.more} more")
        return listed


class Collector:
    """Keeps the first `limit` entries and counts the rest, so memory stays bounded."""

    def __init__(self, limit: int = MAX_LISTED) -> None:
        self.limit = limit
        self.items: list[RowError] = []
        self.more = 0

    def add(self, where: str, field: str, message: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(RowError(where, field, message))
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items) + self.more

    def failure(self) -> ImportFailed:
        return ImportFailed(list(self.items), self.more)
