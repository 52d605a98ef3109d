"""Which contacts a notice reaches (SPEC §3.1, Preferences)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind

# Once a contact has heard of a GCR, these reach it whatever its filters, so that no
# calendar entry it holds goes stale.
ALWAYS_AFTER_FIRST = frozenset({NoticeKind.UPDATED, NoticeKind.RESCHEDULED, NoticeKind.CANCELLED})


@dataclass(frozen=True)
class ContactPrefs:
    id: int
    email: str
    name: str = ""
    notice_kinds: frozenset[NoticeKind] | None = None  # None: every kind
    min_impact: Impact = Impact.NO_IMPACT
    reminders: bool = True
    unsubscribed_at: datetime | None = None
    suppressed_at: datetime | None = None


def receives(contact: ContactPrefs, kind: NoticeKind, worst_impact: Impact, heard_before: bool) -> bool:
    """True when `contact` gets a `kind` notice about a GCR whose worst impact on its
    customer is `worst_impact`; `heard_before` says it already got one about this GCR."""
    if contact.unsubscribed_at or contact.suppressed_at:
        return False
    if heard_before and kind in ALWAYS_AFTER_FIRST:
        return True
    if kind is NoticeKind.REMINDER and not contact.reminders:
        return False
    if contact.notice_kinds is not None and kind not in contact.notice_kinds:
        return False
    if not heard_before and worst_impact.rank < contact.min_impact.rank:
        return False
    return True


def pick_recipients(
    contacts: list[ContactPrefs], kind: NoticeKind, worst_impact: Impact, heard: set[int]
) -> list[ContactPrefs]:
    """The contacts that get the notice, each address once (own contacts first)."""
    chosen: list[ContactPrefs] = []
    seen: set[str] = set()
    for contact in contacts:
        address = contact.email.lower()
        if address in seen or not receives(contact, kind, worst_impact, contact.id in heard):
            continue
        seen.add(address)
        chosen.append(contact)
    return chosen
