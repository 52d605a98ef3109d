"""What every change manager's page needs: the signed-in staff user, whose role allows
what the page does (domain.roles, the API's ladder), who a change is made by, and the
staff layout. A page asks `staff_user` (or `changer`), and `staff_form` for a posted
form; each raises `Answer` with the response to send instead (to sign in, not found for
a customer's user, a refusal), which the page returns (the `answering` decorator does it
for the whole endpoint)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from changemgmt.domain.roles import Role
from changemgmt.gcrs.service import Who
from changemgmt.store.models import User
from changemgmt.users.accounts import UserKind
from changemgmt.web.ui.context import current_user, form_with_csrf, not_found, page, redirect, refused, ui_of
from changemgmt.web.ui.gcr_form import field_label
from changemgmt.web.ui.signin import STALE_FORM

VIEWER_REFUSED = (
    "Your role (viewer) lets you read GCRs, not change them. Ask an administrator for the change_manager role."
)


class Answer(Exception):
    """The response a page gives in place of its own."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def staff_user(request: Request, session: Session, needed: Role = Role.VIEWER) -> User:
    """The signed-in staff user if its role allows `needed`. Raises Answer: to sign in
    (nobody signed in), not found (a customer's user: the staff pages do not exist for
    it), or 403 (a role too low)."""
    user = current_user(request, session)
    if user is None:
        raise Answer(redirect(request, "/signin?next=" + quote(request.url.path)))
    if user.kind != UserKind.STAFF.value or user.role is None:
        raise Answer(not_found(request))
    if not may(user, needed):
        if needed is Role.CHANGE_MANAGER and user.role == Role.VIEWER.value:
            raise Answer(refused(request, VIEWER_REFUSED))
        raise Answer(refused(request, f"This needs the {needed.value.replace('_', ' ')} role; yours is {user.role}."))
    return user


def changer(request: Request, session: Session) -> User:
    """The signed-in staff user, when its role lets it change GCRs (else Answer, 403)."""
    return staff_user(request, session, Role.CHANGE_MANAGER)


async def staff_form(request: Request) -> dict[str, str]:
    """The posted form's fields; raises Answer (403) when its CSRF token is not the session's."""
    fields = await form_with_csrf(request)
    if fields is None:
        raise Answer(refused(request, STALE_FORM))
    return fields


def may(user: User, needed: Role) -> bool:
    return user.role is not None and Role(user.role).allows(needed)


def may_change(user: User) -> bool:
    return may(user, Role.CHANGE_MANAGER)


def who(request: Request, user: User) -> Who:
    ui = ui_of(request)
    return Who(user.email, ui.clock(), ui.settings)


def staff_page(request: Request, user: User, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page in the staff layout (templates/manage_base.html)."""
    base = {"user": user, "may_change": may_change(user), "field_label": field_label, "errors": []}
    return page(request, name, {**base, **context}, status)


def answering(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint, giving the response of an Answer it raises (FastAPI reads the
    endpoint's own signature through functools.wraps)."""
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def answered_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await endpoint(*args, **kwargs)
            except Answer as answer:
                return answer.response

        return answered_async

    @functools.wraps(endpoint)
    def answered(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        except Answer as answer:
            return answer.response

    return answered
