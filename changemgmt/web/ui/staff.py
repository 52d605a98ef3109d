"""Who may use a change manager's page: a signed-in staff user whose role allows it
(domain.roles, the API's ladder). A page asks `staff_user`, and `staff_form` for a
posted form; either raises `Answer` with the response to send instead (to sign in, or
a refusal), which the page's `answering` decorator returns."""

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
from changemgmt.store.models import User
from changemgmt.users.accounts import UserKind
from changemgmt.web.ui.context import current_user, form_with_csrf, redirect, refused
from changemgmt.web.ui.signin import STALE_FORM


class Answer(Exception):
    """The response a page gives in place of its own."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def staff_user(request: Request, session: Session, needed: Role = Role.VIEWER) -> User:
    """The signed-in staff user if its role allows `needed`. Raises Answer: to sign in
    (nobody, or a customer user), or 403 (a role too low)."""
    user = current_user(request, session)
    if user is None or user.kind != UserKind.STAFF.value:
        raise Answer(redirect(request, "/signin?next=" + quote(request.url.path)))
    if not may(user, needed):
        raise Answer(refused(request, f"This needs the {needed.value.replace('_', ' ')} role; yours is {user.role}."))
    return user


async def staff_form(request: Request) -> dict[str, str]:
    """The posted form's fields; raises Answer (403) when its CSRF token is not the session's."""
    fields = await form_with_csrf(request)
    if fields is None:
        raise Answer(refused(request, STALE_FORM))
    return fields


def may(user: User, needed: Role) -> bool:
    return user.role is not None and Role(user.role).allows(needed)


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
