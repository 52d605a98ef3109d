"""Notification set-up in the portal (/portal/<root>/contacts): the contacts of the
accounts the user's grant covers, and, with the manage-contacts permission, adding,
editing and removing them, their preferences, resubscribing one. A contact outside the
grant is not found; a change without the permission is refused (403)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.domain.access import Permission
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind
from changemgmt.inventory.contacts import add_contact, edit_contact, parse_contact, remove_contact
from changemgmt.inventory.preferences import (
    KIND_LABELS,
    Preferences,
    preference_choices,
    preferences_from_form,
    resubscribe,
)
from changemgmt.store.bulk import among
from changemgmt.store.models import Contact, Customer
from changemgmt.users.access import visible_customer
from changemgmt.web.ui.context import form_values_with_csrf, not_found, page, redirect, refused, ui_of
from changemgmt.web.ui.portal import Portal, portal_for
from changemgmt.web.ui.signin import STALE_FORM

router = APIRouter(prefix="/portal")
NO_PERMISSION = "Changing notification contacts needs the manage-contacts permission. Ask your administrator."
DONE = {
    "added": "Contact added.",
    "saved": "Contact saved: notices planned from now on follow it.",
    "removed": "Contact removed.",
    "kept": "Notices were already sent to this contact, so it is kept on record, unsubscribed: it gets no more.",
    "resubscribed": "Contact subscribed again.",
}
FIELD_LABELS = {"email": "Email", "name": "Name", "role": "Role", "kinds": "Notices", "min_impact": "Least impact"}


def _contacts(session: Session, portal: Portal) -> list[tuple[Customer, list[Contact]]]:
    accounts = portal.accounts(session)
    found: dict[int, list[Contact]] = {a.id: [] for a in accounts}
    for contact in session.scalars(
        select(Contact).where(among(Contact.customer_id, sorted(found))).order_by(Contact.email)
    ):
        found[contact.customer_id].append(contact)
    return [(a, found[a.id]) for a in accounts]


def _visible_contact(session: Session, portal: Portal, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.customer_id not in portal.context.accounts:
        raise NotFound(f"no contact {contact_id}")
    return contact


def kinds_text(contact: Contact) -> str:
    shown = Preferences.of(contact).kinds
    return (
        "All notices" if shown == frozenset(NoticeKind) else ", ".join(KIND_LABELS[k] for k in NoticeKind if k in shown)
    )


def _errors(error: DomainError) -> list[str]:
    return [f"{FIELD_LABELS.get(e.field, e.field)}: {e.message}" for e in error.errors]


def _list_page(request: Request, session: Session, portal: Portal, status: int = 200, **extra) -> Response:
    context = {
        **portal.frame(session),
        "title": "Notifications",
        "accounts": _contacts(session, portal),
        "kinds_text": kinds_text,
        "impact_label": lambda value: Impact(value).label,
        "message": DONE.get(request.query_params.get("done", ""), ""),
        "errors": extra.pop("errors", []),
        "entered": extra.pop("entered", None) or _entered({}),
        **preference_choices(extra.pop("shown", None) or Preferences(frozenset(NoticeKind), Impact.NO_IMPACT, True)),
    }
    return page(request, "portal_contacts.html", context, status)


def _back(portal: Portal, done: str) -> str:
    return f"/portal/{quote(portal.root.account, safe='')}/contacts?done={done}"


def _entered(values: dict[str, list[str]]) -> dict[str, str]:
    return {name: (values.get(name) or [""])[0][:300] for name in ("account", "email", "name", "role")}


def _shown(values: dict[str, list[str]]) -> Preferences | None:
    """What the form held, to show it again beside its errors (None: unreadable)."""
    try:
        return preferences_from_form(values)
    except DomainError:
        return None


@router.get("/{root}/contacts")
def contacts_page(request: Request, root: str) -> Response:
    with ui_of(request).transaction() as session:
        portal = portal_for(request, session, root)
        if isinstance(portal, Response):
            return portal
        return _list_page(request, session, portal)


@router.post("/{root}/contacts")
async def add(request: Request, root: str) -> Response:
    values = await form_values_with_csrf(request)
    if values is None:
        return refused(request, STALE_FORM)
    ui = ui_of(request)
    with ui.transaction() as session:
        portal = portal_for(request, session, root)
        if isinstance(portal, Response):
            return portal
        try:
            customer = visible_customer(session, portal.context, (values.get("account") or [""])[0])
        except NotFound:
            return not_found(request)
        if not portal.context.may(Permission.CONTACTS):
            return refused(request, NO_PERMISSION)
        try:
            add_contact(session, customer, parse_contact(values), portal.user.email, ui.clock())
        except DomainError as error:  # raised before anything was written
            return _list_page(
                request, session, portal, 422, errors=_errors(error), entered=_entered(values), shown=_shown(values)
            )
        return redirect(request, _back(portal, "added"))


def _contact_page(request: Request, session: Session, portal: Portal, contact: Contact, status: int = 200, **extra):
    shown = extra.pop("shown", None) or Preferences.of(contact)
    entered = extra.pop("entered", None) or {"email": contact.email, "name": contact.name, "role": contact.role}
    context = {
        **portal.frame(session),
        "title": f"Contact {contact.email}",
        "contact": contact,
        "entered": entered,
        "errors": extra.pop("errors", []),
        **preference_choices(shown),
    }
    return page(request, "portal_contact.html", context, status)


def _managed_contact(
    request: Request, session: Session, root: str, contact_id: int
) -> tuple[Portal, Contact] | Response:
    """The portal and the contact, when the grant covers its account (else not found)
    and allows managing contacts (else refused)."""
    portal = portal_for(request, session, root)
    if isinstance(portal, Response):
        return portal
    try:
        contact = _visible_contact(session, portal, contact_id)
    except NotFound:
        return not_found(request)
    if not portal.context.may(Permission.CONTACTS):
        return refused(request, NO_PERMISSION)
    return portal, contact


@router.get("/{root}/contacts/{contact_id}")
def contact_page(request: Request, root: str, contact_id: int) -> Response:
    with ui_of(request).transaction() as session:
        found = _managed_contact(request, session, root, contact_id)
        if isinstance(found, Response):
            return found
        return _contact_page(request, session, *found)


async def _change(request: Request, root: str, contact_id: int, action: str) -> Response:
    values = await form_values_with_csrf(request)
    if values is None:
        return refused(request, STALE_FORM)
    ui = ui_of(request)
    with ui.transaction() as session:
        found = _managed_contact(request, session, root, contact_id)
        if isinstance(found, Response):
            return found
        portal, contact = found
        actor, now = portal.user.email, ui.clock()
        if action == "remove":
            return redirect(
                request, _back(portal, "removed" if remove_contact(session, contact, actor, now) else "kept")
            )
        if action == "resubscribe":
            resubscribe(session, contact, now, via="portal", actor=actor)
            return redirect(request, _back(portal, "resubscribed"))
        try:
            edit_contact(session, contact, parse_contact(values), actor, now)
        except DomainError as error:  # raised before anything was written
            return _contact_page(
                request,
                session,
                portal,
                contact,
                422,
                errors=_errors(error),
                entered=_entered(values),
                shown=_shown(values),
            )
        return redirect(request, _back(portal, "saved"))


@router.post("/{root}/contacts/{contact_id}")
async def save(request: Request, root: str, contact_id: int) -> Response:
    return await _change(request, root, contact_id, "save")


@router.post("/{root}/contacts/{contact_id}/remove")
async def remove(request: Request, root: str, contact_id: int) -> Response:
    return await _change(request, root, contact_id, "remove")


@router.post("/{root}/contacts/{contact_id}/resubscribe")
async def resubscribe_contact(request: Request, root: str, contact_id: int) -> Response:
    return await _change(request, root, contact_id, "resubscribe")
