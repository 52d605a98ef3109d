"""The GCR status machine (SPEC §2) and its mapping to iCalendar (SPEC §3.1)."""

from __future__ import annotations

import enum

from changemgmt.domain.errors import DomainError, TransitionError


class Status(str, enum.Enum):
    DRAFT = "draft"
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (Status.COMPLETED, Status.CANCELLED)

    @property
    def is_published(self) -> bool:
        """True once customers may know of the GCR (everything but draft)."""
        return self is not Status.DRAFT

    @property
    def ical_status(self) -> str:
        return _ICAL_STATUS[self]

    @property
    def maintnote_status(self) -> str:
        return _MAINTNOTE_STATUS[self]

    @classmethod
    def parse(cls, raw: str, field: str = "status") -> Status:
        key = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(key)
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise DomainError(field, f"{raw!r} is not a status ({allowed})") from None


_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.TENTATIVE, Status.CONFIRMED, Status.CANCELLED}),
    Status.TENTATIVE: frozenset({Status.CONFIRMED, Status.IN_PROGRESS, Status.CANCELLED}),
    Status.CONFIRMED: frozenset({Status.IN_PROGRESS, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset({Status.COMPLETED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
}

_ICAL_STATUS = {
    Status.DRAFT: "TENTATIVE",
    Status.TENTATIVE: "TENTATIVE",
    Status.CONFIRMED: "CONFIRMED",
    Status.IN_PROGRESS: "CONFIRMED",
    Status.COMPLETED: "CONFIRMED",
    Status.CANCELLED: "CANCELLED",
}

_MAINTNOTE_STATUS = {
    Status.DRAFT: "TENTATIVE",
    Status.TENTATIVE: "TENTATIVE",
    Status.CONFIRMED: "CONFIRMED",
    Status.IN_PROGRESS: "IN-PROCESS",
    Status.COMPLETED: "COMPLETED",
    Status.CANCELLED: "CANCELLED",
}


def allowed_transitions(current: Status) -> frozenset[Status]:
    return _ALLOWED[current]


def check_transition(current: Status, target: Status) -> None:
    """Raises TransitionError unless `current -> target` is allowed."""
    if target in _ALLOWED[current]:
        return
    if current.is_final:
        reason = f"the GCR is {current.value}, which is final"
    else:
        options = ", ".join(sorted(s.value for s in _ALLOWED[current]))
        reason = f"a {current.value} GCR can only move to: {options}"
    raise TransitionError("status", f"cannot change {current.value} -> {target.value}: {reason}")
