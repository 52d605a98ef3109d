"""The customer portal under /portal/: the maintenance of the accounts a user's grant
covers, one GCR as each of its accounts sees it, its .ics, subscribe links, the
enterprise switcher and the default enterprise. Every object is looked up through the
user's grant (users.access, users.portal); what it may not see is "not found"."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.content.view import NoticeView, WindowView
from changemgmt.delivery.message import build_ics
from changemgmt.domain.access import Context, Permission, Scope
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.notice import status_label
from changemgmt.feeds.manage import open_feed
from changemgmt.feeds.registry import Scope as FeedScope
from changemgmt.feeds.registry import feed_url, has_accounts, webcal_url
from changemgmt.store.models import Customer, User
from changemgmt.users.access import context_for, roots
from changemgmt.users.accounts import UserKind, set_default_enterprise
from changemgmt.users.portal import Shown, accounts_of, gcr_for, maintenance
from changemgmt.web.ui import calendar
from changemgmt.web.ui.context import (
    current_user,
    finish,
    form_with_csrf,
    not_found,
    page,
    problems_text,
    redirect,
    refused,
    ui_of,
)
from changemgmt.web.ui.signin import STALE_FORM

router = APIRouter(prefix="/portal")


class _Denied(Exception):
    """Not a customer user with a grant of that account: not found (or sign in)."""


def _user(request: Request, session: Session) -> User | None:
    user = current_user(request, session)
    return user if user is not None and user.kind == UserKind.CUSTOMER.value else None


def _context(session: Session, user: User, root: str | None) -> tuple[Context, Customer]:
    customer = session.scalar(select(Customer).where(Customer.account == root)) if root else None
    if root and customer is None:
        raise _Denied()
    context = context_for(session, user, customer.id if customer else None)
    if context is None:
        raise _Denied()
    return context, session.get_one(Customer, context.root)


@dataclass(frozen=True)
class Portal:
    """A signed-in customer user, and what its grant of the enterprise ID in the URL
    shows it (`root`: that enterprise ID or single account)."""

    user: User
    context: Context
    root: Customer

    def frame(self, session: Session) -> dict:
        return _frame(session, self.user, self.context, self.root)

    def accounts(self, session: Session) -> list[Customer]:
        """The accounts the grant covers, the enterprise ID (or the account) first."""
        return sorted(accounts_of(session, self.context), key=lambda a: a.id != self.root.id)


def portal_for(request: Request, session: Session, root: str) -> Portal | Response:
    """The portal of `root` for the signed-in user, or the answer instead of the page:
    sign in (no customer user signed in) or not found (no grant of `root`)."""
    user = _user(request, session)
    if user is None:
        return _signin(request)
    try:
        context, customer = _context(session, user, root)
    except _Denied:
        return not_found(request)
    return Portal(user, context, customer)


def _frame(session: Session, user: User, context: Context, root: Customer) -> dict:
    """What the layout of every portal page shows: who is signed in, the switcher, the
    account lead of the chosen enterprise ID or account."""
    return {
        "user": user,
        "root": root,
        "context": context,
        "roots": roots(session, user),
        "is_default": user.default_enterprise_id == root.id,
        "may_manage_contacts": context.may(Permission.CONTACTS),
        "may_manage_users": context.may(Permission.USERS),
        "status_label": status_label,
    }


def _signin(request: Request) -> Response:
    return redirect(request, "/signin?next=" + quote(request.url.path))


@router.get("/")
def portal_home(request: Request) -> Response:
    with ui_of(request).transaction() as session:
        user = _user(request, session)
        if user is None:
            return _signin(request)
        try:
            _, root = _context(session, user, None)
        except _Denied:
            return page(request, "error.html", {"title": "No access", "message": _NO_ACCESS}, 404)
        return redirect(request, f"/portal/{quote(root.account)}/")


_NO_ACCESS = "Your sign-in has not been given access to any account yet. Ask your administrator."


@router.get("/switch")
def switch(request: Request, to: str = "") -> Response:
    """The switcher's form (a GET: it changes nothing) goes to the chosen enterprise ID."""
    return redirect(request, f"/portal/{quote(to, safe='')}/")


@router.get("/{root}/")
def portal_list(request: Request, root: str) -> Response:
    ui = ui_of(request)
    with ui.transaction() as session:
        portal = portal_for(request, session, root)
        if isinstance(portal, Response):
            return portal
        upcoming, recent = maintenance(session, ui.settings, portal.context, ui.clock())
        frame = portal.frame(session)
        return page(
            request, "portal_list.html", {**frame, "title": "Maintenance", "upcoming": upcoming, "recent": recent}
        )


@router.get("/{root}/calendar")
def portal_calendar(request: Request, root: str, view: str | None = None, start: str | None = None) -> Response:
    """The same maintenance as the list, laid out on the days of a week or a month."""
    ui = ui_of(request)
    with ui.transaction() as session:
        portal = portal_for(request, session, root)
        if isinstance(portal, Response):
            return portal
        user, context, customer = portal.user, portal.context, portal.root
        frame = {**portal.frame(session), "title": "Maintenance calendar"}
        today = calendar.today_in(ui.clock(), user.time_zone)
        try:
            period = calendar.parse_period(view, start, today)
        except DomainError as exc:
            return page(request, "error.html", {**frame, "message": problems_text(exc)}, 422)
        upcoming, recent = maintenance(session, ui.settings, context, ui.clock())
        entries = _entries(customer.account, upcoming + recent)
        here = f"/portal/{quote(customer.account, safe='')}/calendar"
        weeks = calendar.weeks(period, entries, user.time_zone, today)
        shown = {"period": period, "weeks": weeks, "zone": user.time_zone, "today": today, "here": here}
        return page(request, "portal_calendar.html", {**frame, **shown})


def _entries(root: str, shown: list[Shown]) -> list[calendar.Entry]:
    """One entry per window of each GCR, naming the accounts it affects (an enterprise's
    GCR over many accounts is one entry, not one per account)."""
    accounts: dict[tuple, tuple[WindowView, list[NoticeView]]] = {}
    for s in shown:
        for w in s.view.windows:
            key = (s.view.gcr_number, w.number, w.start, w.end, w.cancelled)
            accounts.setdefault(key, (w, []))[1].append(s.view)
    return [_entry(root, views, window) for window, views in accounts.values()]


def _entry(root: str, views: list[NoticeView], window: WindowView) -> calendar.Entry:
    view = views[0]
    href = f"/portal/{quote(root, safe='')}/gcrs/{quote(view.gcr_number, safe='')}"
    if len(views) == 1:
        note = f"{view.customer.account} · {view.customer.name}"
    else:
        note = f"{len(views)} accounts: " + ", ".join(sorted(v.customer.account for v in views))
    return calendar.Entry(
        view.gcr_number, view.title, view.status, href, window.start, window.end, window.cancelled, note
    )


@router.get("/{root}/gcrs/{number}")
def portal_gcr(request: Request, root: str, number: str) -> Response:
    ui = ui_of(request)
    with ui.transaction() as session:
        portal = portal_for(request, session, root)
        if isinstance(portal, Response):
            return portal
        try:
            shown = gcr_for(session, ui.settings, portal.context, number, ui.clock())
        except NotFound:
            return not_found(request)
        frame = portal.frame(session)
        return page(request, "portal_gcr.html", {**frame, "title": number, "shown": shown, "number": number})


@router.get("/{root}/gcrs/{number}/{account}.ics")
def portal_ics(request: Request, root: str, number: str, account: str) -> Response:
    ui = ui_of(request)
    with ui.transaction() as session:
        portal = portal_for(request, session, root)
        if isinstance(portal, Response):
            return portal
        try:
            shown = [
                s
                for s in gcr_for(session, ui.settings, portal.context, number, ui.clock())
                if s.view.customer.account == account
            ]
        except NotFound:
            return not_found(request)
        if not shown:
            return not_found(request)
        body = build_ics(shown[0].view, ui.settings)
    headers = {"content-disposition": f'attachment; filename="{number}-{account}.ics"'}
    return finish(request, Response(body, media_type="text/calendar; charset=utf-8", headers=headers))


@router.get("/{root}/subscribe")
def portal_subscribe(request: Request, root: str) -> Response:
    ui = ui_of(request)
    with ui.transaction() as session:
        portal = portal_for(request, session, root)
        if isinstance(portal, Response):
            return portal
        customer = portal.root
        wanted = [
            (a.account, f"{a.account} · {a.name}", FeedScope.CUSTOMER) for a in accounts_of(session, portal.context)
        ]
        if portal.context.scope is Scope.ENTERPRISE and has_accounts(session, customer.id):
            wanted.insert(0, (customer.account, f"{customer.name} (all accounts)", FeedScope.ENTERPRISE))
    feeds = []
    for account, name, scope in wanted:  # each feed made and written on first use
        url = feed_url(ui.settings, open_feed(ui.db, ui.settings, ui.clock(), account, scope).token)
        feeds.append({"name": name, "account": account, **subscribe_links(url, name)})
    with ui.transaction() as session:
        portal = portal_for(request, session, root)
        if isinstance(portal, Response):
            return portal
        frame = portal.frame(session)
        return page(request, "portal_subscribe.html", {**frame, "title": "Subscribe", "feeds": feeds})


def subscribe_links(url: str, name: str) -> dict[str, str]:
    """The feed's https URL, its webcal:// form, and links that add it to Google Calendar
    and to Outlook on the web (both fetch the https URL themselves)."""
    webcal = webcal_url(url)
    return {
        "url": url,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe=""),
        "outlook": "https://outlook.office.com/calendar/0/addfromweb?url="
        + quote(url, safe="")
        + "&name="
        + quote(name, safe=""),
    }


@router.post("/default")
async def set_default(request: Request) -> Response:
    fields = await form_with_csrf(request)
    if fields is None:
        return refused(request, STALE_FORM)
    ui = ui_of(request)
    with ui.transaction() as session:
        user = _user(request, session)
        if user is None:
            return _signin(request)
        try:
            _, customer = _context(session, user, fields.get("root", ""))
        except _Denied:
            return not_found(request)
        set_default_enterprise(session, user, customer, user.email, ui.clock())
        account = customer.account
    return redirect(request, f"/portal/{quote(account, safe='')}/")
