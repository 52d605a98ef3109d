"""One contact at a time, as a customer's own staff manage them in the portal: add, edit,
remove. Its cells are checked by the inventory import's own parsers (fields.kinds), its
preferences by inventory.preferences, each change audited with who made it.

A contact is in no calendar feed (feedmarks), so, as for an import of contacts, no feed
is marked; notices pick their recipients when they are planned, so a change reaches
every notice planned from then on (and a new eligible contact of a customer not yet
notified of an upcoming GCR gets its `new`, SPEC §3.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, Problems
from changemgmt.domain.impact import Impact
from changemgmt.inventory import cells
from changemgmt.inventory.fields import kinds
from changemgmt.inventory.preferences import Preferences, audit_contact, preferences_from_form, set_preferences
from changemgmt.store.models import Contact, Customer, Recipient

EDITABLE = ("email", "name", "role")


@dataclass(frozen=True)
class ContactInput:
    email: str
    name: str
    role: str
    preferences: Preferences


def parse_contact(values: dict[str, list[str]]) -> ContactInput:
    """A contact from a posted form (`email`, `name`, `role` and the preferences fields);
    DomainErrors naming every field at fault, all at once."""
    problems = Problems()
    parsers = dict(kinds("UTC")["contacts"].parsers)  # a contact has no time zone
    cleaned: dict[str, str] = {}
    for name in EDITABLE:
        try:
            cleaned[name] = str(parsers[name]((values.get(name) or [""])[0]))
        except cells.BadValue as exc:
            problems.add(name, str(exc))
    preferences = Preferences(frozenset(), Impact.NO_IMPACT, True)
    with problems.checking():
        preferences = preferences_from_form(values)
    problems.raise_any()
    return ContactInput(cleaned["email"], cleaned["name"], cleaned["role"], preferences)


def _check_unique(session: Session, customer: Customer, email: str, other_than: int | None = None) -> None:
    statement = select(Contact.id).where(Contact.customer_id == customer.id, func.lower(Contact.email) == email.lower())
    if other_than is not None:
        statement = statement.where(Contact.id != other_than)
    if session.scalar(statement) is not None:
        raise DomainError("email", f"{email} is already a contact of {customer.account}")


def add_contact(session: Session, customer: Customer, given: ContactInput, actor: str, now: datetime) -> Contact:
    _check_unique(session, customer, given.email)
    contact = Contact(customer=customer, email=given.email, name=given.name, role=given.role)
    session.add(contact)
    session.flush()
    audit_contact(session, contact, "create", now, {"name": given.name, "role": given.role}, actor)
    set_preferences(session, contact, given.preferences, now, actor)
    return contact


def edit_contact(session: Session, contact: Contact, given: ContactInput, actor: str, now: datetime) -> None:
    _check_unique(session, contact.customer, given.email, other_than=contact.id)
    before = {name: getattr(contact, name) for name in EDITABLE}
    after = {"email": given.email, "name": given.name, "role": given.role}
    if before != after:
        contact.email, contact.name, contact.role = given.email, given.name, given.role
        changed = {name: [before[name], after[name]] for name in EDITABLE if before[name] != after[name]}
        audit_contact(session, contact, "edit", now, changed, actor)
    set_preferences(session, contact, given.preferences, now, actor)


def remove_contact(session: Session, contact: Contact, actor: str, now: datetime) -> bool:
    """Deletes the contact (True); one that notices were sent to is kept for their record
    and unsubscribed instead (False): it gets nothing more either way."""
    if session.scalar(select(Recipient.id).where(Recipient.contact_id == contact.id).limit(1)) is not None:
        if contact.unsubscribed_at is None:
            contact.unsubscribed_at = now
        audit_contact(session, contact, "remove", now, {"kept": "notices were sent to it"}, actor)
        return False
    audit_contact(session, contact, "remove", now, {}, actor)
    session.delete(contact)
    session.flush()
    return True
