"""What one notice says to one customer: plain data, built from the database by the
outbox and rendered into an email and a BCOP calendar without further queries.

Everything here belongs to that one customer: its services, its account, its zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from changemgmt.domain.gcr import Contact
from changemgmt.domain.impact import Impact, worst
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.status import Status


@dataclass(frozen=True)
class ServiceLine:
    service_id: str
    product: str
    bandwidth: str
    location: str  # e.g. "DLLSTX01 (Dallas, TX) - FTWOTX02 (Fort Worth, TX)"
    impact: Impact
    max_outage_minutes: int | None = None


@dataclass(frozen=True)
class WindowView:
    """One window as this customer's event shows it (one VEVENT, one UID)."""

    number: int
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    sequence: int  # number of the last revision that changed this customer's event
    last_modified: datetime  # that revision's time (feed DTSTAMP and LAST-MODIFIED)
    cancelled: bool = False  # dropped window, or the whole event cancelled for this customer
    previous_start: datetime | None = None  # set on a rescheduled notice for a moved window
    previous_end: datetime | None = None


@dataclass(frozen=True)
class CustomerView:
    account: str
    name: str
    time_zone: str  # IANA zone the times are shown in, beside UTC
    lead_name: str = ""  # the account lead: the customer's own contact at the provider
    lead_email: str = ""
    lead_phone: str = ""


@dataclass(frozen=True)
class NoticeView:
    kind: NoticeKind
    notice_id: int  # our id; makes the Message-ID and correlates deliveries
    gcr_number: str
    title: str
    description: str
    reason: str
    work_location: str
    status: Status
    emergency: bool
    revision: int
    contact: Contact  # whom to ask (defaults to Change Management from config)
    customer: CustomerView
    services: tuple[ServiceLine, ...]
    windows: tuple[WindowView, ...]
    issued_at: datetime  # time of issue: the attachment's DTSTAMP
    changes: tuple[str, ...] = ()  # human lines for updated/rescheduled ("Window 1 moved: ...")
    note: str = ""  # e.g. "This maintenance no longer affects your services."
    reminder_window: int | None = None
    reminder_offset_hours: int | None = None

    @property
    def worst_impact(self) -> Impact:
        return worst(s.impact for s in self.services)


@dataclass(frozen=True)
class Recipient:
    contact_id: int
    email: str
    name: str
    unsubscribe_token: str  # opaque; the one-click unsubscribe URL carries it
    delivery_id: int | None = None  # our delivery row; sent to SendGrid in custom_args
    organisation: str = ""  # the name of the contact's own customer (an enterprise's, for its contacts)
    customer_id: int | None = None  # the contact's own customer: the notice's, or an enterprise above it


def shown_numbers(windows: Iterable[WindowView]) -> dict[int, int]:
    """The numbers a customer knows its windows by, by window number: 1, 2, ... over the
    windows its notice shows (those it ever had an event for, and the active ones), in
    window order. A window is never renumbered, so a customer that never saw window 1
    knows window 2 as its first; its BCOP maintenance id stays `<GCR>-2` (feeds.ical)."""
    return {window.number: shown for shown, window in enumerate(sorted(windows, key=lambda w: w.number), start=1)}
