"""/manage/admin (role admin): API keys (list, create, showing the secret once, revoke:
web.api.keys, as `changemgmt keys`) and change-management users (list, create and
invite by email, invite again, disable: users.accounts and users.invitations, as
`changemgmt users`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from changemgmt.domain.errors import DomainError, NotFound, Problems
from changemgmt.domain.roles import Role, check_role
from changemgmt.domain.windows import zone
from changemgmt.store.models import User
from changemgmt.users.accounts import UserKind, create_user, disable_user, get_user, normal_email
from changemgmt.users.invitations import Invitation, email_invitation
from changemgmt.web.api.keys import create_key, list_keys, revoke_key
from changemgmt.web.ui.context import Ui, not_found, page, redirect, refused, ui_of
from changemgmt.web.ui.staff import answering, staff_form, staff_user

router = APIRouter(prefix="/manage/admin")
HERE = "/manage/admin"


@contextmanager
def _as_admin(request: Request) -> Iterator[tuple[Ui, Session, User]]:
    """The page's transaction and its admin (Answer for anyone else)."""
    ui = ui_of(request)
    with ui.transaction() as session:
        yield ui, session, staff_user(request, session, Role.ADMIN)


@router.get("")
@answering
def admin_page(request: Request, done: str = "") -> Response:
    with _as_admin(request) as (_, session, user):
        return _shown(request, session, user, {"message": _DONE.get(done)})


_DONE = {
    "revoked": "The key was revoked.",
    "disabled": "The user was disabled; its sessions have ended.",
}


def _shown(request: Request, session: Session, user: User, extra: dict[str, Any], status: int = 200) -> Response:
    staff = session.scalars(select(User).where(User.kind == UserKind.STAFF.value).order_by(User.email))
    context = {
        "title": "Admin",
        "user": user,
        "section": HERE,
        "keys": list_keys(session),
        "staff": list(staff),
        "roles": [r.value for r in Role],
        "default_zone": ui_of(request).settings.default_time_zone,
        "key_form": {},
        "user_form": {},
        "key_problems": {},
        "user_problems": {},
        "message": None,
        "new_key": None,
        "invitation": None,
        "created": False,
        **extra,
    }
    return page(request, "manage_admin.html", context, status)


@router.post("/keys")
@answering
async def new_key(request: Request) -> Response:
    fields = await staff_form(request)
    with _as_admin(request) as (ui, session, user):
        try:
            key, secret = create_key(session, fields.get("name", ""), fields.get("role", ""), user.email, ui.clock())
        except DomainError as exc:
            return _shown(request, session, user, {"key_form": fields, "key_problems": _by_field(exc)}, 422)
        session.flush()
        # The secret is in this answer only: it is never stored, nor put in a URL.
        return _shown(request, session, user, {"new_key": {"name": key.name, "role": key.role, "secret": secret}})


@router.post("/keys/{name}/revoke")
@answering
async def revoke(request: Request, name: str) -> Response:
    await staff_form(request)
    with _as_admin(request) as (ui, session, user):
        try:
            revoke_key(session, name, user.email, ui.clock())
        except NotFound:
            return not_found(request)
    return redirect(request, HERE + "?done=revoked")


@router.post("/users")
@answering
async def new_user(request: Request) -> Response:
    fields = await staff_form(request)
    with _as_admin(request) as (ui, session, user):
        try:
            made = _create_staff(session, fields, user.email, ui)
        except DomainError as exc:
            return _shown(request, session, user, {"user_form": fields, "user_problems": _by_field(exc)}, 422)
        address, admin = made.email, user.email
    invitation = await _invite(ui, address, admin)
    with _as_admin(request) as (ui, session, user):
        return _shown(request, session, user, {"invitation": invitation, "created": True})


@router.post("/users/{email}/invite")
@answering
async def invite_again(request: Request, email: str) -> Response:
    await staff_form(request)
    with _as_admin(request) as (ui, session, user):
        target = _user_named(session, email)
        if target is None or target.kind != UserKind.STAFF.value:
            return not_found(request)
        address, admin = target.email, user.email
    try:
        invitation = await _invite(ui, address, admin)
    except DomainError as exc:  # disabled meanwhile
        return refused(request, exc.message)
    with _as_admin(request) as (ui, session, user):
        return _shown(request, session, user, {"invitation": invitation, "created": False})


def _user_named(session: Session, email: str) -> User | None:
    try:
        return get_user(session, email)
    except NotFound:
        return None


async def _invite(ui: Ui, email: str, actor: str) -> Invitation:
    """Emails the user an invitation through the configured transport (recorded in the
    audit trail, sent or not), off the event loop: the send waits on the mail server."""
    return await run_in_threadpool(email_invitation, ui.db, ui.settings, email, actor, ui.clock())


def _create_staff(session: Session, fields: dict[str, str], actor: str, ui: Ui) -> User:
    """A staff user from the form, every bad field reported at once."""
    problems = Problems()
    with problems.checking():
        normal_email(fields.get("email", ""))
    with problems.checking():
        role = check_role(fields.get("role", ""))
    with problems.checking():
        time_zone = fields.get("time_zone", "").strip() or ui.settings.default_time_zone
        zone(time_zone)
    problems.raise_any()
    return create_user(
        session,
        email=fields.get("email", ""),
        name=fields.get("name", ""),
        kind=UserKind.STAFF,
        role=role,
        time_zone=time_zone,
        actor=actor,
        now=ui.clock(),
    )


@router.post("/users/{email}/disable")
@answering
async def disable(request: Request, email: str) -> Response:
    await staff_form(request)
    with _as_admin(request) as (ui, session, user):
        target = _user_named(session, email)
        if target is None:
            return not_found(request)
        if target.id == user.id:
            return refused(request, "You cannot disable your own sign-in; ask another admin.")
        disable_user(session, target, user.email, ui.clock())
    return redirect(request, HERE + "?done=disabled")


def _by_field(error: DomainError) -> dict[str, str]:
    return {e.field: e.message for e in error.errors}
