"""The web process's own engine for /readyz and /metrics, made at the first request that
needs it (a feed request never does), with a small pool of its own and short timeouts
on PostgreSQL, so a slow database makes a check fail rather than hang."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from changemgmt.store.db import make_engine, normalize_url

CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_MS = 5000


def monitoring_engine(url: str) -> Engine:
    if make_url(normalize_url(url)).get_backend_name() != "postgresql":
        return make_engine(url)
    return make_engine(
        url,
        pool_size=2,
        max_overflow=2,
        pool_timeout=CONNECT_TIMEOUT_S,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            "application_name": "changemgmt-web-checks",
        },
    )


class EngineOnDemand:
    """Calling it gives the engine: `engine` if one was given, else one made once for `url`."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self._engine = engine
        self._lock = threading.Lock()

    def __call__(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = monitoring_engine(self.url)
            return self._engine
