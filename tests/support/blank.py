"""A database with nothing in it, where a new user starts: a new SQLite file, or on
PostgreSQL a new schema of the test database (reached through the URL's search_path, so
no other test sees it), dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from changemgmt.store.db import make_engine, normalize_url


@contextmanager
def blank_database(test_url: str, folder: Path) -> Iterator[str]:
    """Yields the DATABASE_URL of an empty database beside the test database `test_url`."""
    if make_url(normalize_url(test_url)).get_backend_name() == "sqlite":
        yield f"sqlite:///{folder / 'blank.db'}"
        return
    schema = f"blank_{uuid.uuid4().hex[:12]}"
    admin = make_engine(test_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{test_url}{'&' if '?' in test_url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
