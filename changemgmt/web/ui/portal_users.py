"""The enterprise's own administrator manages its portal users (/portal/<root>/users):
who has access to the accounts its grant covers, inviting a new user by email, changing
and removing access (users.enterprise holds the rules). Needs the manage-users
permission (403 without it); another customer's account or user is not found."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from changemgmt.domain.access import Permission, Scope, check_permissions
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.users.enterprise import change_access, invite, portal_users, remove_access
from changemgmt.users.invitations import email_invitation
from changemgmt.web.ui.context import Ui, form_values_with_csrf, not_found, page, redirect, refused, ui_of
from changemgmt.web.ui.portal import Portal, portal_for
from changemgmt.web.ui.signin import STALE_FORM

router = APIRouter(prefix="/portal")
NO_PERMISSION = "Managing this enterprise's users needs the manage-users permission. Ask your administrator."
PERMISSION_LABELS = {
    Permission.VIEW: "View maintenance",
    Permission.CONTACTS: "Manage notification contacts",
    Permission.USERS: "Manage users",
}
DONE = {
    "invited": "Access given, and an invitation to set a password emailed.",
    "invite-failed": "Access given, but the invitation email could not be sent. Try inviting again later.",
    "granted": "Access given. They sign in with the password they already have.",
    "changed": "Access changed.",
    "removed": "Access removed.",
}
FIELD_LABELS = {"email": "Email", "name": "Name", "permission": "Permissions", "permissions": "Permissions"}


def _one(values: dict[str, list[str]], name: str) -> str:
    return (values.get(name) or [""])[0]


def _scope(values: dict[str, list[str]]) -> Scope:
    return Scope.ENTERPRISE if _one(values, "scope") == Scope.ENTERPRISE.value else Scope.ACCOUNT


def _users_page(request: Request, session: Session, portal: Portal, status: int = 200, **extra) -> Response:
    grantable = [p for p in Permission if portal.context.may(p)]
    context = {
        **portal.frame(session),
        "title": "Users",
        "users": portal_users(session, portal.context),
        "accounts": portal.accounts(session),
        "grantable": [(p.value, PERMISSION_LABELS[p]) for p in grantable],
        "permissions_text": lambda access: ", ".join(
            PERMISSION_LABELS[p] for p in Permission if p in access.permissions
        ),
        "enterprise_wide": portal.context.scope is Scope.ENTERPRISE,
        "message": DONE.get(request.query_params.get("done", ""), ""),
        "errors": extra.pop("errors", []),
        "entered": extra.pop("entered", None) or dict.fromkeys(("email", "name", "account"), ""),
    }
    return page(request, "portal_users.html", context, status)


def _back(portal: Portal, done: str) -> str:
    return f"/portal/{quote(portal.root.account, safe='')}/users?done={done}"


def _errors(error: DomainError) -> list[str]:
    return [f"{FIELD_LABELS.get(e.field, e.field.capitalize())}: {e.message}" for e in error.errors]


async def _form(request: Request) -> tuple[dict[str, list[str]], Ui] | Response:
    values = await form_values_with_csrf(request)
    if values is None:
        return refused(request, STALE_FORM)
    return values, ui_of(request)


def _managing(request: Request, session: Session, root: str) -> Portal | Response:
    portal = portal_for(request, session, root)
    if isinstance(portal, Response):
        return portal
    if not portal.context.may(Permission.USERS):
        return refused(request, NO_PERMISSION)
    return portal


@router.get("/{root}/users")
def users_page(request: Request, root: str) -> Response:
    with ui_of(request).transaction() as session:
        portal = _managing(request, session, root)
        if isinstance(portal, Response):
            return portal
        return _users_page(request, session, portal)


@router.post("/{root}/users")
async def invite_user(request: Request, root: str) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    values, ui = got
    with ui.transaction() as session:
        portal = _managing(request, session, root)
        if isinstance(portal, Response):
            return portal
        try:
            user, needs_invitation = invite(
                session,
                portal.context,
                portal.user,
                email=_one(values, "email"),
                name=_one(values, "name"),
                account=_one(values, "account"),
                scope=_scope(values),
                permissions=check_permissions(values.get("permissions", [])),
                now=ui.clock(),
            )
        except NotFound:
            return not_found(request)
        except DomainError as error:  # raised before anything was written
            entered = {name: _one(values, name)[:300] for name in ("email", "name", "account")}
            return _users_page(request, session, portal, 422, errors=_errors(error), entered=entered)
        email, admin, back = user.email, portal.user.email, portal
    if not needs_invitation:
        return redirect(request, _back(back, "granted"))
    # The send waits on the mail server: off the event loop.
    invitation = await run_in_threadpool(email_invitation, ui.db, ui.settings, email, admin, ui.clock())
    sent = invitation.sent
    return redirect(request, _back(back, "invited" if sent else "invite-failed"))


async def _change(request: Request, root: str, user_id: int, remove: bool) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    values, ui = got
    with ui.transaction() as session:
        portal = _managing(request, session, root)
        if isinstance(portal, Response):
            return portal
        account = _one(values, "account")
        try:
            if remove:
                remove_access(session, portal.context, portal.user, user_id, account, ui.clock())
            else:
                permissions = check_permissions(values.get("permissions", []))
                change_access(
                    session, portal.context, portal.user, user_id, account, _scope(values), permissions, ui.clock()
                )
        except NotFound:
            return not_found(request)
        except DomainError as error:  # raised before anything was written
            return _users_page(request, session, portal, 422, errors=_errors(error))
        return redirect(request, _back(portal, "removed" if remove else "changed"))


@router.post("/{root}/users/{user_id}/access")
async def change_user(request: Request, root: str, user_id: int) -> Response:
    return await _change(request, root, user_id, remove=False)


@router.post("/{root}/users/{user_id}/remove")
async def remove_user(request: Request, root: str, user_id: int) -> Response:
    return await _change(request, root, user_id, remove=True)
