"""Running the web app (feeds, operations paths, and the API beside them) under uvicorn
(`changemgmt web`, `changemgmt serve`), with feed tokens kept out of
the access log (STANDARDS F5, F17; in either LOG_FORMAT: the filter rewrites the record
before any formatter reads it) and limits on what a client may hold: a time to send
each request's head, its size and number of lines, and the number of open connections
(changemgmt/web/guard.py says why uvicorn's own settings do not suffice)."""

from __future__ import annotations

import logging

from changemgmt.config import Settings
from changemgmt.feeds.files import ensure_folder
from changemgmt.store.db import make_engine, session_factory
from changemgmt.web.app import create_app, utc_now
from changemgmt.web.guard import Limits, default_max_connections, protocol_class
from changemgmt.web.health import Problems
from changemgmt.web.paths import redact

API_PATHS = ("/api/", "/openapi.json", "/docs")
PUBLIC_PATHS = ("/webhooks/", "/unsubscribe/", "/preferences/")


def _app(settings: Settings, readiness: Problems | None):
    """Feeds and operations paths first; then the API (/api/v1, its OpenAPI and /docs);
    the links of the emails (unsubscribe, preferences) and SendGrid's webhook; the
    sign-in and portal pages for the rest."""
    from changemgmt.web.api.app import build_api
    from changemgmt.web.public import public_app
    from changemgmt.web.ui.app import build_ui

    engine = make_engine(settings.database_url)
    api, ui = build_api(settings, engine), build_ui(settings, engine)
    public = public_app(settings, session_factory(engine), utc_now)

    async def pages(scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "lifespan" or path.startswith(API_PATHS):
            await api(scope, receive, send)
        elif path.startswith(PUBLIC_PATHS):
            await public(scope, receive, send)
        else:
            await ui(scope, receive, send)

    return create_app(settings, fallback=pages, readiness=readiness, engine=engine)


class RedactFeedTokens(logging.Filter):
    """Logs every request target that mentions calendars, in any spelling, as
    /calendars/<redacted>. Uvicorn's access log prints the target as it was sent (the
    raw path, then the query) in the record's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    readiness: Problems | None = None,
    access_log: bool = True,
    limits: Limits | None = None,
) -> None:
    """Serves the app until SIGINT or SIGTERM. `readiness` (see web/health.py) reports
    the process's own problems to /readyz. uvicorn's records go to the process's logging
    set-up (changemgmt/logs.py, made by the CLI): uvicorn configures none of its own."""
    import uvicorn

    ensure_folder(settings.calendars_dir)  # its mode is set right on every start
    limits = limits or Limits(max_connections=default_max_connections())
    # ws="none": nothing here speaks WebSocket, so an upgrade request is a plain request.
    config = uvicorn.Config(
        _app(settings, readiness),
        host=host,
        port=port,
        access_log=access_log,
        log_config=None,
        server_header=False,
        lifespan="on",
        ws="none",
        http=protocol_class(limits),
    )
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactFeedTokens())
    uvicorn.Server(config).run()
