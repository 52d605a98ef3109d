"""Splitting lists into runs of bounded size: ids for IN (...) queries (SQLite allows
32,766 parameters a statement), customers planned together."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TypeVar

T = TypeVar("T")
SIZE = 500


def chunks(items: Collection[T], size: int = SIZE) -> Iterator[list[T]]:
    ordered = sorted(items) if isinstance(items, (set, frozenset)) else list(items)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]
