"""Kept-alive HTTP/1.1 connections to one API host, shared by a worker's send threads,
over the standard library's http.client. A request is never sent twice and never written
to a connection the server has closed: a connection is checked before each reuse (the
server closing it, as an idle timeout does, makes it readable) and each failure says
whether the request can have reached the server:

- `Unreachable`: no connection, or the request was not written whole: nothing was taken;
- `NoAnswer`: the request was written, then no answer came: it may have been taken.

Why not urllib3 or httpx: with 32 send threads on one core, httpx's pool spent a
millisecond of CPU per request and urllib3's a quarter of one; this, what http.client
itself costs (a tenth; bench/fanout.py, where it is a fifth of the worker's time).
"""

from __future__ import annotations

import select
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlsplit


class Unreachable(Exception):
    """No connection, or the request not written whole: the server cannot have it."""


class NoAnswer(Exception):
    """The request was written and no answer came: the server may have it."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: Message  # looked up without regard to case
    body: bytes


class KeptAlive:
    """Connections to the host of `base_url`, at most `keep` of them idle at once; over
    https, verified with `context` (default: the system's trusted authorities)."""

    def __init__(self, base_url: str, *, timeout: float, keep: int, context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.path_prefix = parts.path.rstrip("/")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._timeout, self._keep = timeout, keep
        self._context = (context or ssl.create_default_context()) if self._https else None
        self._idle: list[HTTPConnection] = []
        self._lock = threading.Lock()

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        connection = self._take()
        try:
            connection.request("POST", self.path_prefix + path, body, headers)
        except (OSError, HTTPException) as exc:
            connection.close()
            raise Unreachable(_said(exc)) from exc
        try:
            response = connection.getresponse()
            answer = Answer(response.status, response.reason, response.headers, response.read())
        except (OSError, HTTPException) as exc:
            connection.close()
            raise NoAnswer(_said(exc)) from exc
        if response.will_close:
            connection.close()
        else:
            self._give_back(connection)
        return answer

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _take(self) -> HTTPConnection:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._open()
            if _still_open(connection):
                return connection
            connection.close()

    def _open(self) -> HTTPConnection:
        connection = (
            HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._context)
            if self._https
            else HTTPConnection(self._host, self._port, timeout=self._timeout)
        )
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            raise Unreachable(_said(exc)) from exc
        return connection

    def _give_back(self, connection: HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(connection)
                return
        connection.close()


def _still_open(connection: HTTPConnection) -> bool:
    """An idle connection the server has not closed: nothing waits to be read on it (a
    closed one reads as end of file; an idle one has nothing to say)."""
    sock = connection.sock
    if sock is None:
        return False
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


def _said(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
