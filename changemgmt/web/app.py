"""The ASGI application: /calendars/<token>.ics, and the operations paths /healthz,
/readyz and /metrics, dispatched by a prefix test and a dictionary look-up rather than a
router so the feed path stays fast. The web UI and API (a later issue) plug in as
`fallback`, which gets every other request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from changemgmt.config import Settings
from changemgmt.web.database import EngineOnDemand
from changemgmt.web.feeddocs import feed_route
from changemgmt.web.health import Problems, Readiness, healthz
from changemgmt.web.metrics import Metrics
from changemgmt.web.paths import is_feed_path

Endpoint = Callable[[Any, Any, Any], Awaitable[None]]  # an ASGI app: scope, receive, send


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    fallback=None,
    max_age: int = 300,
    *,
    readiness: Problems | None = None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utc_now,
):
    """An ASGI app serving settings.calendars_dir; `fallback` (an ASGI app) answers the rest.

    /readyz and /metrics read the database through `engine`, else through an engine of
    their own made at their first request; `readiness` returns the process's own
    problems (empty when it is ready); `clock` is the time the metrics' ages count to."""
    feeds = feed_route(settings, max_age=max_age)  # calendars/ or the database (FEED_STORE)
    database = EngineOnDemand(settings.database_url, engine)
    operations: dict[str, Endpoint] = {
        "/healthz": healthz,
        "/readyz": Readiness(database, readiness),
        "/metrics": Metrics(database, clock),
    }

    async def app(scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "http" and is_feed_path(scope["path"]):
            await feeds(scope, receive, send)
        elif kind == "http" and scope["path"] in operations:
            await operations[scope["path"]](scope, receive, send)
        elif fallback is not None:
            await fallback(scope, receive, send)
        elif kind == "http":
            await _not_found(scope, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    return app


async def _not_found(scope, send) -> None:
    body = b"Not Found\n"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
