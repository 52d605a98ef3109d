"""A contact's own choices, made through the signed link in every email (SPEC §7): one-click
unsubscribe (RFC 8058), resubscribe, and its preferences (notice kinds, least impact,
reminders). Each change is audited and applies to notices planned from then on; an
unsubscribe also stops deliveries not yet sent (the worker re-reads it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from changemgmt.domain.errors import NotFound, Problems
from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind
from changemgmt.store.models import AuditEntry, Contact


@dataclass(frozen=True)
class Preferences:
    kinds: frozenset[NoticeKind]  # every kind: all of them
    min_impact: Impact
    reminders: bool

    @classmethod
    def of(cls, contact: Contact) -> Preferences:
        kinds = (
            frozenset(NoticeKind(k) for k in contact.notice_kinds) if contact.notice_kinds else frozenset(NoticeKind)
        )
        return cls(kinds, Impact(contact.min_impact), contact.reminders)


def parse_preferences(kinds: Iterable[str], min_impact: str | None, reminders: bool) -> Preferences:
    """Preferences from a form; DomainErrors naming each field at fault."""
    problems = Problems()
    chosen: set[NoticeKind] = set()
    for raw in kinds:
        try:
            chosen.add(NoticeKind(raw))
        except ValueError:
            problems.add("kinds", f"{raw!r} is not a notice kind ({', '.join(k.value for k in NoticeKind)})")
    if not chosen and not problems:
        problems.add("kinds", "choose at least one kind of notice, or unsubscribe")
    impact = Impact.NO_IMPACT
    with problems.checking():
        impact = Impact.parse(min_impact or "", "min_impact")
    problems.raise_any()
    return Preferences(frozenset(chosen), impact, reminders)


def contact_of(session: Session, contact_id: int | None) -> Contact:
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    if contact is None:
        raise NotFound("this link is not valid (it may have been mistyped or cut short)")
    return contact


KIND_LABELS = {
    NoticeKind.NEW: "New maintenance",
    NoticeKind.UPDATED: "Updates",
    NoticeKind.RESCHEDULED: "Reschedules",
    NoticeKind.REMINDER: "Reminders",
    NoticeKind.STARTED: "Work started",
    NoticeKind.COMPLETED: "Work completed",
    NoticeKind.CANCELLED: "Cancellations",
    NoticeKind.EMERGENCY: "Emergency maintenance",
}


def preference_choices(shown: Preferences) -> dict:
    """What a preferences form offers, with `shown` chosen: `kinds` (value, label,
    checked), `impacts` (value, label, selected) and `reminders`."""
    return {
        "kinds": [{"value": k.value, "label": KIND_LABELS[k], "checked": k in shown.kinds} for k in NoticeKind],
        "impacts": [{"value": i.value, "label": i.label, "selected": i is shown.min_impact} for i in Impact],
        "reminders": shown.reminders,
    }


def preferences_from_form(values: dict[str, list[str]]) -> Preferences:
    """Preferences from a posted form's fields (`kinds` repeated, `min_impact`, a
    `reminders` checkbox); DomainErrors naming each field at fault."""
    return parse_preferences(values.get("kinds", []), (values.get("min_impact") or [""])[0], "reminders" in values)


def audit_contact(session: Session, contact: Contact, action: str, now: datetime, details: dict, actor: str) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor=actor,
            entity="contact",
            entity_key=f"{contact.customer.account}:{contact.email}",
            action=action,
            details=details,
        )
    )


def _own(contact: Contact) -> str:
    return f"contact:{contact.id}"


def unsubscribe(session: Session, contact: Contact, now: datetime, via: str, actor: str | None = None) -> bool:
    """Unsubscribes the contact; False when it already was (nothing changes). `actor`:
    who did it (None: the contact itself)."""
    if contact.unsubscribed_at is not None:
        return False
    contact.unsubscribed_at = now
    audit_contact(session, contact, "unsubscribe", now, {"via": via}, actor or _own(contact))
    session.flush()
    return True


def resubscribe(
    session: Session, contact: Contact, now: datetime, via: str = "preferences page", actor: str | None = None
) -> bool:
    """Takes back an unsubscribe; False when there was none. A hard bounce's suppression
    stays: the address itself does not take mail."""
    if contact.unsubscribed_at is None:
        return False
    contact.unsubscribed_at = None
    audit_contact(session, contact, "resubscribe", now, {"via": via}, actor or _own(contact))
    session.flush()
    return True


def set_preferences(
    session: Session, contact: Contact, preferences: Preferences, now: datetime, actor: str | None = None
) -> bool:
    """Stores the preferences; False when they were already these."""
    if preferences == Preferences.of(contact):
        return False
    every = preferences.kinds == frozenset(NoticeKind)
    contact.notice_kinds = None if every else sorted(k.value for k in preferences.kinds)
    contact.min_impact = preferences.min_impact.value
    contact.reminders = preferences.reminders
    details = {"notice_kinds": contact.notice_kinds, "min_impact": contact.min_impact, "reminders": contact.reminders}
    audit_contact(session, contact, "preferences", now, details, actor or _own(contact))
    session.flush()
    return True
