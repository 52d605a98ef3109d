"""Notice kinds (SPEC §3), whose values are also the template folder names, and the words
a notice uses for a GCR's status."""

from __future__ import annotations

import enum

from changemgmt.domain.status import Status


class NoticeKind(str, enum.Enum):
    NEW = "new"
    UPDATED = "updated"
    RESCHEDULED = "rescheduled"
    REMINDER = "reminder"
    STARTED = "started"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EMERGENCY = "emergency"

    @property
    def priority(self) -> int:
        """Which due deliveries a worker takes first (0 before 1): a notice bound to a
        moment (a reminder, a start, a reschedule, an emergency...) goes before the `new`
        notices of a big publication, which may wait a minute; an earlier notice to the
        same customer about the same GCR still goes first (delivery.claim)."""
        return 1 if self is NoticeKind.NEW else 0

    @property
    def subject_word(self) -> str:
        return "EMERGENCY" if self is NoticeKind.EMERGENCY else self.value.capitalize()


STATUS_LABELS = {
    Status.DRAFT: "Draft",
    Status.TENTATIVE: "Tentative",
    Status.CONFIRMED: "Confirmed",
    Status.IN_PROGRESS: "In progress",
    Status.COMPLETED: "Completed",
    Status.CANCELLED: "Cancelled",
}


def status_label(status: Status) -> str:
    """A status as a notice words it: 'Tentative', 'In progress'."""
    return STATUS_LABELS[status]
