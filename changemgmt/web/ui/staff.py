"""Who may use a change manager's page: a signed-in staff user whose role allows it
(domain.roles, the API's ladder). Each page asks `staff_user` first and returns the
response it gets instead of a user: the sign-in page, or a refusal."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from changemgmt.domain.roles import Role
from changemgmt.store.models import User
from changemgmt.users.accounts import UserKind
from changemgmt.web.ui.context import current_user, redirect, refused


def staff_user(request: Request, session: Session, needed: Role = Role.VIEWER) -> User | Response:
    """The signed-in staff user if its role allows `needed`; otherwise the response to
    send: to sign in (nobody, or a customer user), or 403 (a role too low)."""
    user = current_user(request, session)
    if user is None or user.kind != UserKind.STAFF.value:
        return redirect(request, "/signin?next=" + quote(request.url.path))
    if not may(user, needed):
        return refused(request, f"This needs the {needed.value.replace('_', ' ')} role; yours is {user.role}.")
    return user


def may(user: User, needed: Role) -> bool:
    return user.role is not None and Role(user.role).allows(needed)
