"""Kept-alive connections for the `sendgrid` client.

`python_http_client` (under `sendgrid`) opens a new TCP connection, and builds a new
urllib opener (reading every proxy variable of the environment), for every request: at
fan-out rates that costs the worker more CPU than a third of rendering the email.
`PooledClient` is the same client, with the same URLs, headers, body encoding, responses
and exceptions, sending over one kept-alive connection per thread, building no opener and
no urllib Request (parsing its URL again cost a tenth of each send).
"""

from __future__ import annotations

import io
import json
import ssl
import threading
from functools import lru_cache, partial
from http.client import HTTPConnection, HTTPSConnection, RemoteDisconnected
from urllib.error import HTTPError
from urllib.parse import SplitResult, urlsplit

from python_http_client import Client
from python_http_client.client import Response
from python_http_client.exceptions import handle_error

_STALE = (RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _Answer:
    """What python_http_client's Response reads from a urllib response."""

    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def getcode(self) -> int:
        return self.status

    def read(self) -> bytes:
        return self.body

    def info(self):
        return self.headers


class Connections:
    """One connection per thread and origin, reopened when the server has closed it."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._tls = ssl.create_default_context()

    def _connection(self, url, timeout: float | None):
        pool = self._local.__dict__.setdefault("pool", {})
        origin = (url.scheme, url.hostname, url.port)
        if origin not in pool:
            if url.scheme == "https":
                pool[origin] = HTTPSConnection(url.hostname, url.port or 443, timeout=timeout, context=self._tls)
            else:
                pool[origin] = HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
        return origin, pool[origin]

    def send(self, method: str, full_url: str, headers: dict, data: bytes | None, timeout: float | None) -> _Answer:
        url = _split(full_url)
        origin, connection = self._connection(url, timeout)
        reused = connection.sock is not None
        try:
            return self._exchange(connection, method, url, headers, data)
        except _STALE:
            self._local.pool.pop(origin).close()
            if not reused:
                raise
            # The server closed an idle kept-alive connection before reading our request.
            return self._exchange(self._connection(url, timeout)[1], method, url, headers, data)
        except BaseException:
            self._local.pool.pop(origin, None)
            connection.close()
            raise

    @staticmethod
    def _exchange(connection, method: str, url: SplitResult, headers: dict, data: bytes | None) -> _Answer:
        path = url.path + (f"?{url.query}" if url.query else "")
        connection.request(method, path, data, headers)
        response = connection.getresponse()
        return _Answer(response.status, response.headers, response.read())


@lru_cache(maxsize=64)
def _split(full_url: str) -> SplitResult:
    return urlsplit(full_url)


class PooledClient(Client):
    """python_http_client's Client over kept-alive connections (see the module docstring)."""

    def __init__(self, *args, connections: Connections | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._connections = connections or Connections()

    def _build_client(self, name=None):
        url_path = self._url_path + [name] if name else self._url_path
        return PooledClient(
            host=self.host,
            version=self._version,
            request_headers=self.request_headers,
            url_path=url_path,
            append_slash=self.append_slash,
            timeout=self.timeout,
            connections=self._connections,
        )

    def __getattr__(self, name):
        if name in self.methods:
            return partial(self._request, name.upper())
        return super().__getattr__(name)

    def _request(
        self, method: str, request_body=None, query_params=None, request_headers=None, timeout=None, **_
    ) -> Response:
        """Client's http_request, minus the opener it builds and never uses here."""
        if request_headers:
            self._update_headers(request_headers)
        data = None
        if request_body is not None:
            if self.request_headers.get("Content-Type", "application/json") != "application/json":
                data = request_body.encode("utf-8")
            else:
                self.request_headers.setdefault("Content-Type", "application/json")
                data = json.dumps(request_body).encode("utf-8")
        url = self._build_url(query_params)
        answer = self._connections.send(method, url, dict(self.request_headers), data, timeout or self.timeout)
        if answer.status >= 400:
            raise handle_error(HTTPError(url, answer.status, "", answer.headers, io.BytesIO(answer.body)))
        # Response reads only getcode(), read() and info(), which _Answer has; the stubs want an HTTPResponse.
        return Response(answer)  # type: ignore[arg-type]
