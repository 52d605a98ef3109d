"""Signing in and out, and taking up an invitation (setting a password)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from changemgmt.domain.errors import DomainError
from changemgmt.users.accounts import UserKind, set_password
from changemgmt.users.invites import invited_user
from changemgmt.users.signin import SignInRefused, sign_in
from changemgmt.web.ui import sessions
from changemgmt.web.ui.context import (
    current_user,
    form_with_csrf,
    page,
    redirect,
    refused,
    start_session,
    ui_of,
)

router = APIRouter()
STALE_FORM = "This form has expired or did not come from this site. Go back, reload the page and try again."


def home_of(kind: str) -> str:
    return "/portal/" if kind == UserKind.CUSTOMER.value else "/manage/"


def landing(kind: str, wanted: str) -> str:
    """Where a user lands after signing in: the page it was sent to sign in from
    (`wanted`, the `next` of the sign-in link), when that is a page of its own part of the
    site; else its home. Never another site: only a path under the user's home."""
    home = home_of(kind)
    if wanted.startswith(home) and "//" not in wanted and "\\" not in wanted and len(wanted) <= 2000:
        return wanted
    return home


@router.get("/signin")
def signin_form(request: Request, wanted: str = Query("", alias="next")) -> Response:
    with ui_of(request).transaction() as session:
        user = current_user(request, session)
        if user is not None:
            return redirect(request, landing(user.kind, wanted))
    return page(request, "signin.html", {"title": "Sign in", "error": None, "email": "", "next": wanted[:2000]})


@router.post("/signin")
async def signin(request: Request) -> Response:
    fields = await form_with_csrf(request)
    if fields is None:
        return refused(request, STALE_FORM)
    ui = ui_of(request)
    email = fields.get("email", "")
    address = request.client.host if request.client else ""
    error = None
    with ui.transaction() as session:
        try:
            user = sign_in(session, email, fields.get("password", ""), address, ui.clock())
            start_session(request, sessions.signed_in(user.id, user.session_epoch, ui.clock()))
            home = landing(user.kind, fields.get("next", ""))
        except SignInRefused as exc:
            error = exc.message  # the attempt is recorded: the transaction commits
    if error is not None:
        shown = {"title": "Sign in", "error": error, "email": email[:254], "next": fields.get("next", "")[:2000]}
        return page(request, "signin.html", shown, 401)
    return redirect(request, home)


@router.post("/signout")
async def signout(request: Request) -> Response:
    if await form_with_csrf(request) is None:
        return refused(request, STALE_FORM)
    start_session(request, sessions.anonymous(ui_of(request).clock()))
    return redirect(request, "/signin")


@router.get("/invitation/{token}")
def invitation_form(request: Request, token: str) -> Response:
    ui = ui_of(request)
    with ui.transaction() as session:
        user = invited_user(session, ui.settings, token, ui.clock())
        if user is None:
            return _expired(request)
        email = user.email
    return page(request, "invitation.html", {"title": "Set your password", "email": email, "error": None})


@router.post("/invitation/{token}")
async def take_up_invitation(request: Request, token: str) -> Response:
    fields = await form_with_csrf(request)
    if fields is None:
        return refused(request, STALE_FORM)
    ui = ui_of(request)
    password, again = fields.get("password", ""), fields.get("again", "")
    with ui.transaction() as session:
        user = invited_user(session, ui.settings, token, ui.clock())
        if user is None:
            return _expired(request)
        email, error = user.email, None
        try:
            if password != again:
                raise DomainError("password", "the two passwords differ")
            set_password(session, user, password, user.email, ui.clock())
        except DomainError as exc:
            error = exc.message
        else:
            start_session(request, sessions.signed_in(user.id, user.session_epoch, ui.clock()))
            home = home_of(user.kind)
    if error is not None:
        return page(request, "invitation.html", {"title": "Set your password", "email": email, "error": error}, 422)
    return redirect(request, home)


def _expired(request: Request) -> Response:
    message = "This invitation link has expired or was already used. Ask for a new one."
    return page(request, "error.html", {"title": "Invitation not valid", "message": message}, 404)
