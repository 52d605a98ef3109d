"""An ASGI app under a real uvicorn on a loopback port, in a thread of the test process
(for apps built with injected parts: a clock, a readiness callback)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import uvicorn

from support.web import free_port


@contextmanager
def serving(app):
    """Yields the server's URL; stops it afterwards."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
