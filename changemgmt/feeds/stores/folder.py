"""Feeds as files in calendars/, named by their token (changemgmt/feeds/files.py writes
them atomically): the embedded default, and what nginx serves directly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from changemgmt.feeds import files
from changemgmt.feeds.feed_tokens import is_token, token_hash
from changemgmt.feeds.registry import FeedToken
from changemgmt.feeds.stores.base import Done, FeedStore, FeedWriter

SUFFIX = ".ics"


class FileStore(FeedStore):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def writer(self) -> FeedWriter:
        return _FileWriter(self.folder)

    def read(self, feed: FeedToken) -> bytes | None:
        return files.read(self.folder, feed.file_name)

    def remove(self, token: str) -> bool:
        return files.remove(self.folder, token + SUFFIX)

    def remove_unknown(self, known_hashes: Callable[[], set[str]]) -> int:
        names = [p.name for p in self.folder.glob("*" + SUFFIX) if is_token(p.name.removesuffix(SUFFIX))]
        known = known_hashes()  # after listing: a feed is committed before its file exists
        removed = sum(files.remove(self.folder, n) for n in names if token_hash(n.removesuffix(SUFFIX)) not in known)
        files.remove_stale_temporaries(self.folder)
        return removed


class _FileWriter(FeedWriter):
    """Files written on a few threads (files.Writer); the folder's renames made durable
    once, at the end, if anything was written. The folder's mode is set right first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = files.Writer(folder, mode=files.ensure_folder(folder))
        self.wrote = False

    def submit(self, feed: FeedToken, data: bytes, done: Done) -> None:
        self.files.submit(feed.file_name, data, lambda changed: self._written(changed, done))

    def _written(self, changed: bool, done: Done) -> None:
        self.wrote = self.wrote or changed
        done(changed)

    def close(self) -> None:
        self.files.close()
        if self.wrote:
            files.sync_folder(self.folder)
