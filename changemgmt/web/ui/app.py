"""The browser side as one FastAPI app: sign-in, the customer portal, a placeholder home
for change managers, and our static files (htmx, the style sheet). create_app (web/app.py)
passes it every request that is not a feed or an operations path. Another app may
include `ROUTERS` instead, with a `Ui` as `app.state.ui` and `STATIC` mounted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from changemgmt.config import Settings
from changemgmt.store.db import session_factory
from changemgmt.web.ui import (
    manage_admin,
    manage_calendar,
    manage_deliveries,
    manage_inventory,
    portal,
    portal_contacts,
    portal_users,
    signin,
)
from changemgmt.web.ui.context import HERE, Ui, current_user, page, redirect, ui_of

STATIC = HERE / "static"
manage = APIRouter()


@manage.get("/")
def home(request: Request) -> Response:
    return redirect(request, "/signin")


@manage.get("/manage/")
def manage_home(request: Request) -> Response:
    """The change manager's pages are still to come; this one confirms the sign-in."""
    with ui_of(request).transaction() as session:
        user = current_user(request, session)
        if user is None or user.kind != "staff":
            return redirect(request, "/signin")
        return page(request, "manage.html", {"title": "Change management", "user": user})


ROUTERS = (
    signin.router,
    portal.router,
    portal_contacts.router,
    portal_users.router,
    manage,
    manage_calendar.router,
    manage_deliveries.router,
    manage_inventory.router,
    manage_admin.router,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_ui(settings: Settings, engine: Engine, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ui = Ui(settings, session_factory(engine), clock)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
