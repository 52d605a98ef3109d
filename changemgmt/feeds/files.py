"""Feed files in calendars/: written atomically (a temporary file in the same folder,
fsync, rename over the old one), so a reader, ours or nginx, sees the old file or the
new one and never a part of either (DESIGN: a half-written feed is never served)."""
from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

TEMP_SUFFIX = ".tmp"
MAX_PENDING = 256


def ensure_folder(folder: Path) -> None:
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # Traversable but not listable by others: a file name is a secret URL, and the
        # web server opens files by name (docs/serving-feeds.md).
        folder.chmod(0o711)


def read(folder: Path, name: str) -> bytes | None:
    try:
        return (folder / name).read_bytes()
    except FileNotFoundError:
        return None


def write_atomic(folder: Path, name: str, data: bytes) -> None:
    # Hidden and not ending in .ics, so no web server config serves a temporary file.
    temp = folder / f".{name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, folder / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_if_changed(folder: Path, name: str, data: bytes) -> bool:
    """Writes the file unless it already holds exactly `data`; returns True if written."""
    if read(folder, name) == data:
        return False
    write_atomic(folder, name, data)
    return True


def remove(folder: Path, name: str) -> bool:
    try:
        (folder / name).unlink()
        return True
    except FileNotFoundError:
        return False


def sync_folder(folder: Path) -> None:
    """Makes the renames in `folder` durable (once per batch rather than per file)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path, older_than: float = 3600.0) -> int:
    """Deletes temporary files a crashed writer left behind."""
    removed = 0
    limit = time.time() - older_than
    for path in folder.glob(f".*{TEMP_SUFFIX}"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


class Writer:
    """Writes files on a few threads: each write waits on its fsync, so they overlap one
    another and the rendering of the next feeds. `done(changed)` runs on the caller's
    thread, in `close`."""

    def __init__(self, folder: Path, threads: int = 4) -> None:
        self.folder = folder
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feed-writer")
        self._pending: list[tuple[Future, Callable[[bool], None]]] = []

    def submit(self, name: str, data: bytes, done: Callable[[bool], None]) -> None:
        self._pending.append((self._pool.submit(write_if_changed, self.folder, name, data), done))
        while len(self._pending) > MAX_PENDING:  # bounds the bytes held in memory
            future, done = self._pending.pop(0)
            done(future.result())

    def close(self) -> None:
        """Waits for every write; raises the first error after all have finished."""
        self._pool.shutdown(wait=True)
        pending, self._pending = self._pending, []
        for future, done in pending:
            done(future.result())

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
