"""Feed files in calendars/: written atomically (a temporary file in the same folder,
fsync, rename over the old one), so a reader, ours or nginx, sees the old file or the
new one and never a part of either (DESIGN: a half-written feed is never served).

A file's name is its secret URL, so the folder may be entered but never listed by
others: 0711, or 0700 when the web server runs as the same user (docs/serving-feeds.md).
Modes are set explicitly, whatever the process umask.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

TEMP_SUFFIX = ".tmp"
MAX_PENDING = 256
FOLDER_MODE = 0o711  # the most a feed folder allows: others may enter it, not list it
FILE_MODE = 0o644


def ensure_folder(folder: Path) -> int:
    """Creates the feed folder mode 0711, or takes from an existing one every permission
    beyond 0711, leaving the owner rwx: an operator's 0700 (the web server runs as the
    same user) or 0710 (it is in the folder's group) stays as it is. Returns the mode
    for feed files: readable by those who may enter the folder, and only by them."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=FOLDER_MODE)
        folder.chmod(FOLDER_MODE)  # mkdir's mode is narrowed by the umask
        mode = FOLDER_MODE
    except FileExistsError:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode != (mode & FOLDER_MODE) | 0o700:
            mode = (mode & FOLDER_MODE) | 0o700
            folder.chmod(mode)
    return file_mode(mode)


def file_mode(folder_mode: int) -> int:
    """0644 in a folder others may enter (0711), 0640 in one only its group may (0710),
    0600 in a private one (0700)."""
    readers = (0o040 if folder_mode & 0o010 else 0) | (0o004 if folder_mode & 0o001 else 0)
    return 0o600 | readers


def read(folder: Path, name: str) -> bytes | None:
    try:
        return (folder / name).read_bytes()
    except FileNotFoundError:
        return None


def write_atomic(folder: Path, name: str, data: bytes, mode: int = FILE_MODE) -> None:
    # Hidden and not ending in .ics, so no web server config serves a temporary file.
    temp = folder / f".{name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, mode)  # exactly `mode`, whatever the umask
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, folder / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_if_changed(folder: Path, name: str, data: bytes, mode: int = FILE_MODE) -> bool:
    """Writes the file unless it already holds exactly `data` (then only its mode is set
    right, if need be); returns True if written."""
    try:
        with open(folder / name, "rb") as handle:
            if handle.read() == data:
                if stat.S_IMODE(os.fstat(handle.fileno()).st_mode) != mode:
                    os.fchmod(handle.fileno(), mode)
                return False
    except FileNotFoundError:
        pass
    write_atomic(folder, name, data, mode)
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

    def __init__(self, folder: Path, threads: int = 4, mode: int = FILE_MODE) -> None:
        self.folder, self.mode = folder, mode
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feed-writer")
        self._pending: list[tuple[Future, Callable[[bool], None]]] = []

    def submit(self, name: str, data: bytes, done: Callable[[bool], None]) -> None:
        self._pending.append((self._pool.submit(write_if_changed, self.folder, name, data, self.mode), done))
        while len(self._pending) > MAX_PENDING:  # bounds the bytes held in memory
            future, done = self._pending.pop(0)
            done(future.result())

    def close(self) -> None:
        """Waits for every write; raises the first error after all have finished."""
        self._pool.shutdown(wait=True)
        pending, self._pending = self._pending, []
        for future, done in pending:
            done(future.result())

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
