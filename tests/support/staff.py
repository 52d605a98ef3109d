"""Change managers in tests: staff users with a role, an HTTP client signed in as one
(its session cookie made as signing in makes it, without paying for Argon2), and failed
deliveries for their pages to show."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from changemgmt.delivery.transports import InMemoryTransport, SendError
from changemgmt.delivery.worker import Worker
from changemgmt.domain.roles import Role
from changemgmt.store import models
from changemgmt.store.db import session_factory, transaction
from changemgmt.users.accounts import UserKind, create_user
from support.portal import PASSWORD, csrf_of, session_cookie

REFUSED = "550 mailbox unavailable"


def staff_user(db, clock, email: str, role: Role, *, time_zone: str = "America/Chicago") -> int:
    """A change-management user with `role` and the test password; returns its id."""
    with transaction(db) as session:
        user = create_user(
            session,
            email=email,
            name=email.split("@")[0].title(),
            kind=UserKind.STAFF,
            role=role,
            time_zone=time_zone,
            actor="test",
            now=clock(),
            password=PASSWORD,
        )
        return user.id


def staff_client(url: str, settings, clock, user_id: int) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=True)
    client.cookies.set("cm_session", session_cookie(settings, user_id, 0, clock()))
    return client


def post_form(client: httpx.Client, page: str, action: str, data: dict) -> httpx.Response:
    """Posts `data` (a list value: a field given several times) to `action` with the
    CSRF token of the form on `page`, as a browser would."""
    return client.post(action, data={**data, "csrf": csrf_of(client.get(page).text)})


def fail_all_deliveries(engine, settings, clock) -> list[int]:
    """Sends every due delivery to a provider that refuses each for good; returns the
    ids of the deliveries that failed, in order."""
    transport = InMemoryTransport()
    transport.fail_next(*(SendError(REFUSED, permanent=True) for _ in range(50)))
    worker = Worker(engine, transport, settings, clock)
    try:
        worker.run_once()
    finally:
        worker.close()
    with session_factory(engine)() as session:
        failed = select(models.Delivery.id).where(models.Delivery.state == "failed").order_by(models.Delivery.id)
        return list(session.scalars(failed))
