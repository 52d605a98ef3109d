"""The one sender interface every transport implements (DESIGN: a tiny interface whose
error says whether retrying can help)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from changemgmt.delivery.message import OutgoingMessage


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None = None  # SendGrid's X-Message-Id; None elsewhere


class SendError(Exception):
    """A send that failed. `permanent` is True when the same message can never succeed
    (e.g. SendGrid 400); `retry_after` is the seconds the provider asked us to wait.
    `sent_contact_ids` names recipients whose copy was already handed over before the
    failure (per-recipient transports), so a retry can skip them."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        status: int | None = None,
        sent_contact_ids: tuple[int, ...] = (),
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.sent_contact_ids = sent_contact_ids

    def __repr__(self) -> str:
        return (
            f"SendError({str(self)!r}, permanent={self.permanent}, "
            f"retry_after={self.retry_after}, status={self.status})"
        )


class Transport(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hands the message over for all its recipients, or raises SendError."""
        ...
