"""What every change manager's page needs: the signed-in staff user, what its role lets
it do (domain.roles, as the API's keys), who a change is made by, and the staff layout."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from changemgmt.domain.roles import Role
from changemgmt.gcrs.service import Who
from changemgmt.store.models import User
from changemgmt.users.accounts import UserKind
from changemgmt.web.ui.context import current_user, not_found, page, redirect, refused, ui_of
from changemgmt.web.ui.gcr_form import field_label

VIEWER_REFUSED = (
    "Your role (viewer) lets you read GCRs, not change them. Ask an administrator for the change_manager role."
)


class NotStaff(Exception):
    """The request has no staff user: the caller answers `response`."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def staff_user(request: Request, session: Session) -> User:
    """The signed-in staff user; raises NotStaff with a redirect to sign in when there is
    none, or "not found" for a customer's user (the staff pages do not exist for it)."""
    user = current_user(request, session)
    if user is None:
        raise NotStaff(redirect(request, "/signin"))
    if user.kind != UserKind.STAFF.value or user.role is None:
        raise NotStaff(not_found(request))
    return user


def changer(request: Request, session: Session) -> User:
    """The signed-in staff user, when its role lets it change GCRs (else NotStaff, 403)."""
    user = staff_user(request, session)
    if not may_change(user):
        raise NotStaff(refused(request, VIEWER_REFUSED))
    return user


def may_change(user: User) -> bool:
    return Role(user.role).allows(Role.CHANGE_MANAGER)


def who(request: Request, user: User) -> Who:
    ui = ui_of(request)
    return Who(user.email, ui.clock(), ui.settings)


def staff_page(request: Request, user: User, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page in the staff layout (templates/manage_base.html)."""
    base = {"user": user, "may_change": may_change(user), "field_label": field_label, "errors": []}
    return page(request, name, {**base, **context}, status)
