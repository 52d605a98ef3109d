"""Notice kinds (SPEC §3). Their values are also the template folder names."""
from __future__ import annotations

import enum


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
    def subject_word(self) -> str:
        return "EMERGENCY" if self is NoticeKind.EMERGENCY else self.value.capitalize()
