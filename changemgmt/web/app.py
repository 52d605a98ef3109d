"""The ASGI application: /calendars/<token>.ics and /healthz, dispatched by a prefix
test rather than a router so the feed path stays fast. The web UI and API (a later
issue) plug in as `fallback`, which gets every other request."""

from __future__ import annotations

from changemgmt.config import Settings
from changemgmt.web.feeddocs import feed_route
from changemgmt.web.paths import is_feed_path


def create_app(settings: Settings, fallback=None, max_age: int = 300):
    """An ASGI app serving settings.calendars_dir; `fallback` (an ASGI app) answers the rest."""
    feeds = feed_route(settings, max_age=max_age)  # calendars/ or the database (FEED_STORE)

    async def app(scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "http" and is_feed_path(scope["path"]):
            await feeds(scope, receive, send)
        elif fallback is not None:
            await fallback(scope, receive, send)
        elif kind == "http":
            await _basic(scope, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    return app


async def _basic(scope, send) -> None:
    if scope["path"] == "/healthz":
        status, body = 200, b"ok\n"
    else:
        status, body = 404, b"Not Found\n"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
