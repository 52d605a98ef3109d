"""The recorder's own connection on PostgreSQL: its two settings, and whatever options
DATABASE_URL gives (a search_path) kept."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from changemgmt.delivery.recorder import _recording_engine
from changemgmt.store.db import is_postgres, make_engine


def test_the_recorders_connection_keeps_the_urls_options_and_adds_its_own(engine, database_url):
    if not is_postgres(engine):
        pytest.skip("SQLite: the recorder shares the engine")
    given = make_engine(f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3Delsewhere")
    recording = _recording_engine(given)
    try:
        with recording.connect() as connection:
            shown = {name: connection.execute(text(f"SHOW {name}")).scalar_one() for name in _SETTINGS}
    finally:
        recording.dispose()
        given.dispose()
    assert shown == {"search_path": "elsewhere", "synchronous_commit": "off", "enable_seqscan": "off"}


_SETTINGS = ("search_path", "synchronous_commit", "enable_seqscan")
