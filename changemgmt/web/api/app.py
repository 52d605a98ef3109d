"""The API's FastAPI application: /api/v1 (JSON, errors as problem+json), /openapi.json
and /docs. create_app (web/app.py) passes it every request that is not a feed or an
operations path, so feeds keep their fast path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from changemgmt import __version__
from changemgmt.config import Settings
from changemgmt.store.db import session_factory
from changemgmt.web.api import blackouts, conflicts, deliveries, feeds, gcrs, inventory, notices, problems
from changemgmt.web.api.context import Api
from changemgmt.web.api.limits import BodyLimit
from changemgmt.web.api.openapi import add_models

DESCRIPTION = """Change management over HTTP: GCRs, their notices and deliveries, conflicts
and blackouts, the inventory and customers' calendar feeds. Every request needs an API key
(`Authorization: Bearer <key>`, made by `changemgmt keys create`); each endpoint says
the role it needs (viewer < change_manager < admin). A GCR's ETag goes in `If-Match` to
change it safely; an `Idempotency-Key` makes a POST safe to send again."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_api(settings: Settings, engine: Engine, clock: Callable[[], datetime] = utc_now):
    """The API as an ASGI app (FastAPI behind the body-size limit)."""
    app = FastAPI(title="changemgmt", version=__version__, description=DESCRIPTION)
    app.state.api = Api(settings, session_factory(engine), clock)
    problems.install(app)
    for module in (gcrs, notices, deliveries, conflicts, blackouts, inventory, feeds):
        app.include_router(module.router)

    def openapi():
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = add_models(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return BodyLimit(app)
