"""Connection limits uvicorn lacks, as a thin wrapper around its own HTTP protocol.

What uvicorn (0.55) offers and does not:
- `timeout_keep_alive` closes a connection idle *after* a response; nothing times out a
  connection that has not finished sending a request's head (request line and headers):
  no timer runs from connecting to the first request, and the first byte of a later
  request cancels the keep-alive timer. A client that sends half a request, or nothing,
  holds its connection for ever.
- `h11_max_incomplete_event_size` caps the head with the h11 parser only; with httptools
  (the fast parser uvicorn picks when installed) a head of megabytes and thousands of
  header lines is read in full.
- `limit_concurrency` answers 503 once a request's head is complete, and never closes a
  half-open connection, so it bounds nothing against slow clients.

So `protocol_class(limits)` gives uvicorn's documented `http` setting a protocol class
that keeps uvicorn's own protocol (httptools, else h11) and passes every asyncio call on
to it, adding, per server and per connection:
- at most `max_connections` open connections: one more is answered 503 and closed;
- each request's head must arrive within `header_timeout` seconds, counted from the
  connection's start for its first request and from the first byte of each later one;
  a connection that misses it is closed;
- a head of more than `max_header_bytes` or `max_header_lines` lines is answered 431.

It reads the bytes to find where each head ends and sees when a response starts (the
first write after a head, 1xx aside), so it knows which bytes that follow are a body and
which begin the next head. It relies on no private part of uvicorn: only on its `http`
setting and on the asyncio Protocol and Transport interfaces.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import cast

HEAD, REQUEST, ANSWERED, CLOSED = "head", "request", "answered", "closed"
_CLOSE = b"\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large" + _CLOSE
BUSY = b"HTTP/1.1 503 Service Unavailable" + _CLOSE


def default_max_connections() -> int:
    """1000, or fewer when the open-file limit would not leave room for the files the
    server opens besides its connections."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1000 if soft == resource.RLIM_INFINITY else max(16, min(1000, soft - 64))


@dataclass(frozen=True)
class Limits:
    """What one client may hold (docs/serving-feeds.md, "Limits")."""

    header_timeout: float = 10.0  # seconds for a request's head to arrive
    max_header_bytes: int = 16 * 1024  # of a head, request line included
    max_header_lines: int = 100  # request line and header lines
    max_connections: int = 1000  # open at once, per server process


class HeadTooLarge(Exception):
    pass


class HeadScanner:
    """Finds where one request's head ends in its bytes as they arrive: after the first
    empty line (CRLF or LF alone). Empty lines before the request line are skipped, as
    RFC 9112 §2.2 lets a server do."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.started = False
        self.size = 0  # bytes of the head so far
        self.lines = 0  # complete lines so far
        self.line = 0  # bytes of the line being read
        self.last = 0  # its last byte

    def feed(self, data: bytes) -> int | None:
        """The offset in `data` just past the head's end, or None if it has not come yet;
        raises HeadTooLarge past the limits."""
        if not self.started and data[:1] not in (b"\r", b"\n"):
            end = _blank_line_end(data)
            if end is not None:  # the usual case: a whole head in one piece, found in C
                self.size, self.lines = end, data.count(b"\n", 0, end) - 1
                self._check()
                return end
        position = 0
        if not self.started:
            position = len(data) - len(data.lstrip(b"\r\n"))
            if position == len(data):
                return None
            self.started = True
        while True:
            newline = data.find(b"\n", position)
            end = len(data) if newline == -1 else newline
            if end > position:
                self.line += end - position
                self.last = data[end - 1]
            self.size += end - position + (newline != -1)
            if newline == -1:
                self._check()
                return None
            if self.line == 0 or (self.line == 1 and self.last == ord("\r")):
                return newline + 1
            self.lines += 1
            self.line = self.last = 0
            self._check()
            position = newline + 1

    def _check(self) -> None:
        if self.size > self.limits.max_header_bytes or self.lines > self.limits.max_header_lines:
            raise HeadTooLarge()


def _blank_line_end(data: bytes) -> int | None:
    """The offset just past the first empty line that follows a line in `data`."""
    ends = [at + length for at, length in ((data.find(b"\n\r\n"), 3), (data.find(b"\n\n"), 2)) if at != -1]
    return min(ends) if ends else None


class GuardedProtocol(asyncio.Protocol):
    """One connection: uvicorn's protocol behind the limits. Made by protocol_class()."""

    limits: Limits
    inner_class: type[asyncio.Protocol]
    connections: set[GuardedProtocol]
    transport: asyncio.Transport  # from connection_made, before anything else is called

    def __init__(self, **uvicorn_arguments) -> None:
        self.inner = self.inner_class(**uvicorn_arguments)
        self.attached = False  # the inner protocol has the connection
        self.phase = HEAD
        self.scanner = HeadScanner(self.limits)
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream protocol is given a stream Transport; typeshed types every protocol's as the base.
        self.transport = cast(asyncio.Transport, transport)
        if len(self.connections) >= self.limits.max_connections:
            self._close_with(BUSY)
            return
        self.connections.add(self)
        self._start_timer()  # the first head is due from the start
        self.attached = True
        self.inner.connection_made(_WatchedTransport(self.transport, self))

    def data_received(self, data: bytes) -> None:
        if self.phase is CLOSED:
            return
        if self.phase is ANSWERED:  # the first byte of the next request
            self.phase, self.scanner = HEAD, HeadScanner(self.limits)
        if self.phase is HEAD:
            try:
                end = self.scanner.feed(data)
            except HeadTooLarge:
                self._close_with(TOO_LARGE)
                return
            if end is not None:
                self.phase = REQUEST
                self._cancel_timer()
            elif self.timer is None:
                self._start_timer()  # due from its first byte, which came just now
        self.inner.data_received(data)

    def responded(self, data) -> None:
        """The inner protocol wrote `data`: a response has started, unless it is a 1xx
        (its status line starts `HTTP/1.1 1`)."""
        if self.phase is REQUEST and data[9:10] != b"1":
            self.phase = ANSWERED

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.attached and self.phase is not CLOSED else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.connections.discard(self)
        if self.attached:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.attached:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.attached:
            self.inner.resume_writing()

    def _start_timer(self) -> None:
        self.timer = asyncio.get_running_loop().call_later(self.limits.header_timeout, self._abort)

    def _close_with(self, response: bytes) -> None:
        """Answers `response` and closes, reading nothing more. A timer still runs while
        the head was awaited: it aborts a close that cannot finish (a client not reading)."""
        self.phase = CLOSED
        self.transport.write(response)
        self.transport.close()

    def _abort(self) -> None:
        self.timer = None
        self.transport.abort()  # at once, even with unsent data: the client may not be reading

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _WatchedTransport(asyncio.Transport):
    """The transport as the inner protocol sees it: the real one, telling the guard when
    a response starts."""

    def __init__(self, transport: asyncio.Transport, guard: GuardedProtocol) -> None:
        super().__init__()
        self._transport, self._guard = transport, guard

    def write(self, data) -> None:
        self._guard.responded(data)
        self._transport.write(data)

    def writelines(self, list_of_data) -> None:
        for data in list_of_data:
            self.write(data)

    def get_extra_info(self, name, default=None):
        return self._transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._transport.close()

    def abort(self) -> None:
        self._transport.abort()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._transport.write_eof()

    def set_protocol(self, protocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self):
        return self._transport.get_protocol()


def protocol_class(limits: Limits, inner: type[asyncio.Protocol] | None = None) -> type[asyncio.Protocol]:
    """A protocol class for uvicorn's `http` setting: `inner` (default: uvicorn's own
    choice, httptools when installed, else h11) behind `limits`. One class per server:
    its connections are counted together."""
    if inner is None:
        from uvicorn.config import HTTP_PROTOCOLS
        from uvicorn.importer import import_from_string

        inner = import_from_string(HTTP_PROTOCOLS["auto"])
    return type(
        "GuardedHTTPProtocol", (GuardedProtocol,), {"limits": limits, "inner_class": inner, "connections": set()}
    )
