"""The portal in tests: customer users with grants over the small world, and the web UI
served by a real uvicorn on loopback (create_app with web.ui as its fallback)."""

from __future__ import annotations

import re
from contextlib import contextmanager

import httpx

from changemgmt.domain.access import Permission, Scope
from changemgmt.store.db import make_engine, transaction
from changemgmt.users.access import grant_access
from changemgmt.users.accounts import UserKind, create_user
from changemgmt.web.app import create_app
from changemgmt.web.ui import sessions
from changemgmt.web.ui.app import build_ui
from support.asgi_server import serving

PASSWORD = "correct horse battery"
VIEW = frozenset({Permission.VIEW})
CONTACTS = frozenset({Permission.VIEW, Permission.CONTACTS})
ADMIN = frozenset(Permission)


def customer_user(
    db, clock, email, grants, *, password=PASSWORD, time_zone="America/Chicago", default=None, permissions=VIEW
):
    """A customer user with `grants`: [(account, Scope), ...], each with `permissions`;
    returns its id."""
    with transaction(db) as session:
        user = _new_user(session, clock, email, UserKind.CUSTOMER, None, password, time_zone)
        for account, scope in grants:
            grant_access(session, user, account, scope, permissions, "test", clock())
        if default is not None:
            from changemgmt.feeds.registry import customer_by_account

            user.default_enterprise_id = customer_by_account(session, default).id
        return user.id


def staff_user(db, clock, email, role, *, password=PASSWORD, time_zone="America/Chicago"):
    """A change-management user with `role` (a domain.roles.Role); returns its id."""
    with transaction(db) as session:
        return _new_user(session, clock, email, UserKind.STAFF, role, password, time_zone).id


def _new_user(session, clock, email, kind, role, password, time_zone):
    return create_user(
        session,
        email=email,
        name=email.split("@")[0],
        kind=kind,
        role=role,
        time_zone=time_zone,
        actor="test",
        now=clock(),
        password=password,
    )


ENTERPRISE, ACCOUNT = Scope.ENTERPRISE, Scope.ACCOUNT


@contextmanager
def portal_server(settings, clock):
    engine = make_engine(settings.database_url)
    try:
        with serving(create_app(settings, fallback=build_ui(settings, engine, clock), engine=engine)) as url:
            yield url
    finally:
        engine.dispose()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in_client(url: str, email: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=True)
    form = client.get("/signin")
    reply = client.post("/signin", data={"email": email, "password": password, "csrf": csrf_of(form.text)})
    assert reply.status_code == 200, reply.text
    return client


def session_cookie(settings, user_id: int, epoch: int, now) -> str:
    """A session cookie for the user, as signing in makes it (without paying for Argon2)."""
    return sessions.encode(settings, sessions.signed_in(user_id, epoch, now))
