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


def _audit(session: Session, contact: Contact, action: str, now: datetime, details: dict) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor=f"contact:{contact.id}",
            entity="contact",
            entity_key=f"{contact.customer.account}:{contact.email}",
            action=action,
            details=details,
        )
    )


def unsubscribe(session: Session, contact: Contact, now: datetime, via: str) -> bool:
    """Unsubscribes the contact; False when it already was (nothing changes)."""
    if contact.unsubscribed_at is not None:
        return False
    contact.unsubscribed_at = now
    _audit(session, contact, "unsubscribe", now, {"via": via})
    session.flush()
    return True


def resubscribe(session: Session, contact: Contact, now: datetime) -> bool:
    """Takes back an unsubscribe; False when there was none. A hard bounce's suppression
    stays: the address itself does not take mail."""
    if contact.unsubscribed_at is None:
        return False
    contact.unsubscribed_at = None
    _audit(session, contact, "resubscribe", now, {"via": "preferences page"})
    session.flush()
    return True


def set_preferences(session: Session, contact: Contact, preferences: Preferences, now: datetime) -> bool:
    """Stores the preferences; False when they were already these."""
    if preferences == Preferences.of(contact):
        return False
    every = preferences.kinds == frozenset(NoticeKind)
    contact.notice_kinds = None if every else sorted(k.value for k in preferences.kinds)
    contact.min_impact = preferences.min_impact.value
    contact.reminders = preferences.reminders
    _audit(
        session,
        contact,
        "preferences",
        now,
        {"notice_kinds": contact.notice_kinds, "min_impact": contact.min_impact, "reminders": contact.reminders},
    )
    session.flush()
    return True
