"""Where feeds' bytes are kept, behind one small interface (as job stores are in
APScheduler 3): the publisher writes, reads back and removes feeds only through it, so
it has no branch per store. Two implementations: `FileStore` (calendars/, served by the
app or nginx on the machine that holds it) and `DatabaseStore` (the feed_documents
table, served by web processes on any machine). Both pass one contract test
(tests/test_feed_stores.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from changemgmt.feeds.registry import FeedToken

Done = Callable[[bool], None]  # told whether the feed was written (its bytes changed)


class FeedWriter(ABC):
    """Writes the feeds of one publishing run. `submit` may write at once or later; every
    feed is written, and every `done` called on the caller's thread, by `close` at the
    latest. A feed is written only when its bytes differ from those stored."""

    @abstractmethod
    def submit(self, feed: FeedToken, data: bytes, done: Done) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Finishes every write; raises the first error once all have been tried."""

    def __enter__(self) -> FeedWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FeedStore(ABC):
    @abstractmethod
    def writer(self) -> FeedWriter: ...

    @abstractmethod
    def read(self, feed: FeedToken) -> bytes | None:
        """The bytes stored under the feed's token, or None."""

    @abstractmethod
    def remove(self, token: str) -> bool:
        """Removes what is stored under `token` (a rotated one): its URL answers 404 from
        now on. True if there was something."""

    @abstractmethod
    def remove_unknown(self, known_hashes: Callable[[], set[str]]) -> int:
        """Removes the feeds stored under tokens whose SHA-256 is not among
        `known_hashes()` (called once what is stored has been listed, since a feed is
        committed before it is written), and any leftovers of interrupted writes; returns
        how many feeds were removed."""
