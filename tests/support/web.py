"""Running `changemgmt web` as an operator would: a process of its own on a loopback
port, its access log on its standard output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def web_process(env: dict[str, str], *options: str):
    """Yields the server's URL and a function that stops it and returns what it logged."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "changemgmt", "web", "--host", "127.0.0.1", *options],
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def stop() -> str:
        process.terminate()
        return process.communicate(timeout=20)[0]

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield url, stop
    finally:
        if process.poll() is None:
            stop()
