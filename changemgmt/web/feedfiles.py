"""Serving calendars/<token>.ics: a small raw ASGI app, because feed polling is the
hottest path we have and a framework's routing and FileResponse cost most of the time
(docs/serving-feeds.md has the figures; nginx can serve the same folder directly).

No database on this path: the token is the file name. A request for an unknown token
does the same work as one for a known token (validate the name, stat the file, look in
the cache) and answers 404, so timing does not tell them apart (STANDARDS A44, F4).

Only regular files in the folder itself are served: a symbolic link named like a feed
(pointing at /etc/passwd, or at a feed elsewhere) is a 404, because the name is looked
up with lstat and opened with O_NOFOLLOW, and the open file must be a regular file.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from changemgmt.web.paths import SUFFIX, feed_token

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
NO_FILE = "-"  # stat-ed in place of a malformed name: never a token, so never a file
_MISSING = (-1, -1, -1)


@dataclass(frozen=True)
class Entry:
    """One feed's bytes and ready-made headers, valid while its key holds: (inode, mtime,
    size) for a file, the ETag for a feed in the database."""

    key: object
    body: bytes
    etag: bytes
    last_modified: bytes
    mtime: int  # whole seconds, as Last-Modified says
    ok_headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]


# O_NONBLOCK: opening a FIFO put there in place of a feed must not block the server.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _stat_key(status: os.stat_result) -> tuple[int, int, int]:
    return status.st_ino, status.st_mtime_ns, status.st_size


def file_key(path: str) -> tuple[int, int, int]:
    """The (inode, mtime, size) of the regular file at `path` itself, never of what a
    symbolic link there points at; _MISSING for anything else."""
    try:
        status = os.lstat(path)
    except OSError:
        return _MISSING
    return _stat_key(status) if stat.S_ISREG(status.st_mode) else _MISSING


def load_entry(path: str, cache_control: bytes) -> Entry | None:
    """Reads a regular file, never through a symbolic link, and describes it by the fstat
    of the same open file, so the bytes and the key always belong together even if the
    file is replaced meanwhile."""
    try:
        with open(os.open(path, _OPEN_FLAGS), "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                return None
            body = handle.read()
    except OSError:  # ELOOP for a symbolic link, ENOENT for a file removed meanwhile
        return None
    etag = b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'
    return make_entry(_stat_key(status), body, len(body), etag, int(status.st_mtime), cache_control)


def make_entry(key: object, body: bytes, size: int, etag: bytes, mtime: int, cache_control: bytes) -> Entry:
    """An entry with its headers; `size` is the body's (a HEAD or 304 may be answered
    from an entry made without the body)."""
    last_modified = formatdate(mtime, usegmt=True).encode()
    shared = [(b"etag", etag), (b"last-modified", last_modified), (b"cache-control", cache_control)]
    ok = [
        (b"content-type", b"text/calendar; charset=utf-8"),
        (b"content-length", str(size).encode()),
        (b"x-content-type-options", b"nosniff"),
        *shared,
    ]
    return Entry(key, body, etag, last_modified, mtime, ok, shared)


def etag_matches(header: bytes, etag: bytes) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2)."""
    if header == etag:
        return True
    for item in header.split(b","):
        item = item.strip()
        if item == b"*" or item.removeprefix(b"W/") == etag:
            return True
    return False


def not_modified_since(header: bytes, entry: Entry) -> bool:
    if header == entry.last_modified:
        return True
    try:
        since = parsedate_to_datetime(header.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return False  # an invalid date is ignored (RFC 9110 §13.1.3)
    if since.tzinfo is None:
        return False
    return entry.mtime <= since.timestamp()


class FeedFiles:
    """GET and HEAD of /calendars/<token>.ics from `folder`, with ETag, Last-Modified,
    Cache-Control: private and 304 (RFC 9110 §13.1-13.2; STANDARDS A41-A43)."""

    def __init__(self, folder: Path | str, max_age: int = 300, cache_entries: int = 4096) -> None:
        self.folder = str(folder).rstrip("/") + "/"
        self.cache_control = f"private, max-age={max_age}".encode()
        self.cache_entries = cache_entries
        self._cache: dict[str, Entry] = {}

    def lookup(self, token: str) -> Entry | None:
        """The entry for a token, or None; the same steps whether or not it exists."""
        path = self.folder + (token if TOKEN.fullmatch(token) else NO_FILE) + SUFFIX
        key = file_key(path)
        entry = self._cache.get(path)
        if entry is not None and entry.key == key:
            return entry
        if key == _MISSING:
            self._cache.pop(path, None)
            return None
        return self._remember(path, load_entry(path, self.cache_control))

    def _remember(self, path: str, entry: Entry | None) -> Entry | None:
        if entry is None:
            return None
        if path not in self._cache and len(self._cache) >= self.cache_entries:
            del self._cache[next(iter(self._cache))]  # the oldest entry
        self._cache[path] = entry
        return entry

    async def __call__(self, scope, receive, send) -> None:
        method = scope["method"]
        entry = self.lookup(feed_token(scope))  # "" for any path not sent as /calendars/<token>.ics
        if method != "GET" and method != "HEAD":
            await plain(send, 405, b"Method Not Allowed\n", [(b"allow", b"GET, HEAD")])
        elif entry is None:
            await not_found(send, method)
        elif is_fresh(scope["headers"], entry):
            await not_modified(send, entry)
        else:
            await ok(send, entry, method)


async def not_found(send, method: str) -> None:
    await plain(send, 404, b"Not Found\n", [(b"cache-control", b"no-store")], method == "HEAD")


async def not_modified(send, entry: Entry) -> None:
    await send({"type": "http.response.start", "status": 304, "headers": entry.not_modified_headers})
    await send({"type": "http.response.body", "body": b""})


async def ok(send, entry: Entry, method: str) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": entry.ok_headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else entry.body})


def is_fresh(headers, entry: Entry) -> bool:
    """True when the client's copy is current: If-None-Match, else If-Modified-Since."""
    if_none_match = if_modified_since = None
    for name, value in headers:
        if name == b"if-none-match":
            if_none_match = value
        elif name == b"if-modified-since":
            if_modified_since = value
    if if_none_match is not None:
        return etag_matches(if_none_match, entry.etag)
    return if_modified_since is not None and not_modified_since(if_modified_since, entry)


async def plain(send, status: int, body: bytes, extra: list[tuple[bytes, bytes]], head: bool = False) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
