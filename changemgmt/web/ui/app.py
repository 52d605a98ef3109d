"""The browser side as one FastAPI app: sign-in, the customer portal, the change
manager's pages under /manage/, and our static files (htmx, the style sheet). create_app (web/app.py)
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
    manage_gcr_actions,
    manage_gcr_edit,
    manage_gcrs,
    manage_inventory,
    manage_preview,
    portal,
    portal_contacts,
    portal_users,
    signin,
)
from changemgmt.web.ui.context import HERE, Ui, redirect

STATIC = HERE / "static"
manage = APIRouter()


@manage.get("/")
def home(request: Request) -> Response:
    return redirect(request, "/signin")


# The edit and preview routes come before /manage/gcrs/{number}, which would take "new".
ROUTERS = (
    signin.router,
    portal.router,
    portal_contacts.router,
    portal_users.router,
    manage_gcr_edit.router,
    manage_preview.router,
    manage_gcr_actions.router,
    manage_gcrs.router,
    manage_calendar.router,
    manage_deliveries.router,
    manage_inventory.router,
    manage_admin.router,
    manage,
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
