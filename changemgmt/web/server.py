"""Running the web app under uvicorn (`changemgmt web`), with feed tokens kept out of
the access log (STANDARDS F5, F17)."""
from __future__ import annotations

import logging
import re

from changemgmt.config import Settings
from changemgmt.web.app import create_app

_FEED_PATH = re.compile(r"/calendars/[^/?\s]+")


class RedactFeedTokens(logging.Filter):
    """Rewrites /calendars/<token>.ics to /calendars/<redacted> in log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_FEED_PATH.sub("/calendars/<redacted>", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def serve(settings: Settings, host: str, port: int, access_log: bool = True) -> None:
    import uvicorn

    config = uvicorn.Config(create_app(settings), host=host, port=port, access_log=access_log,
                            server_header=False, lifespan="on")
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactFeedTokens())
    uvicorn.Server(config).run()
