"""The one sender interface every transport implements (DESIGN: a tiny interface whose
error says whether retrying can help). A transport sends once per call and never on its
own again: only the worker decides to retry, and every try is an attempt row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from changemgmt.delivery.mail import Mail
from changemgmt.delivery.message import OutgoingMessage


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None = None  # SendGrid's X-Message-Id; None elsewhere
    # Recipients the provider refused for good (contact id -> its reason), while it took
    # the others' copies: they fail alone.
    refused: Mapping[int, str] = field(default_factory=dict)


class SendError(Exception):
    """A send that failed.

    - `permanent`: the same message can never succeed (e.g. SendGrid 400);
    - `retry_after`: the seconds the provider asked us to wait (a 429's reset);
    - `sent_contact_ids`: recipients whose copy was handed over before the failure
      (per-recipient transports), so a retry skips them;
    - `refused`: recipients refused for good (contact id -> reason): they fail alone,
      and the others may be tried again at once;
    - `unknown`: the request went out and no answer came back (a read timeout, a dropped
      connection): the provider may have it, so a retry may duplicate it;
    - `outage`: the failure is the provider's as a whole (unreachable, 5xx, 429), not this
      message's: what the circuit breaker counts;
    - `tried`: False when no request was made (the breaker held the message back): no
      attempt was used."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        status: int | None = None,
        sent_contact_ids: tuple[int, ...] = (),
        refused: Mapping[int, str] | None = None,
        unknown: bool = False,
        outage: bool = False,
        tried: bool = True,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.sent_contact_ids = sent_contact_ids
        self.refused = dict(refused or {})
        self.unknown = unknown
        self.outage = outage
        self.tried = tried

    def __repr__(self) -> str:
        return (
            f"SendError({str(self)!r}, permanent={self.permanent}, retry_after={self.retry_after}, "
            f"status={self.status}, unknown={self.unknown}, outage={self.outage}, tried={self.tried})"
        )


class Transport(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hands the message over for all its recipients, or raises SendError."""
        ...

    def send_mail(self, mail: Mail) -> SendResult:
        """Hands a transactional email (delivery.mail) over for its one recipient, or
        raises SendError."""
        ...
