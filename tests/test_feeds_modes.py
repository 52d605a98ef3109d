"""File modes (issue 10): feed names are secret URLs and the SQLite database holds
everything, so the feed folder may be entered but not listed by others (0711, or 0700
kept when the operator chose it), the database's files are 0600 and its folder 0700;
set on every start, whatever the umask and whatever modes an older version left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from changemgmt.feeds import files
from changemgmt.feeds.publisher import rebuild_all
from changemgmt.store.db import make_engine
from support.web import web_process


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode)


@pytest.fixture(autouse=True)
def open_umask():
    """The loosest umask: nothing may depend on the process's umask being strict."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_a_new_feed_folder_is_0711_and_its_feeds_0644(db, settings, clock, desk):
    assert not settings.calendars_dir.exists()  # a fresh clone has no calendars/: it is made at run time
    rebuild_all(db, settings, clock())
    assert mode(settings.calendars_dir) == 0o711
    feeds = list(settings.calendars_dir.glob("*.ics"))
    assert feeds and {mode(path) for path in feeds} == {0o644}


@pytest.mark.parametrize(
    "before, after, feed",
    [(0o755, 0o711, 0o644), (0o777, 0o711, 0o644), (0o700, 0o700, 0o600), (0o750, 0o710, 0o640), (0o500, 0o700, 0o600)],
    ids=["0755", "0777", "0700", "0750", "0500"],
)
def test_an_existing_feed_folder_is_tightened_never_loosened(db, settings, clock, desk, before, after, feed):
    """An operator's 0700 (nginx runs as the same user) stays, and its feeds are then
    readable by their owner alone; looser modes lose every bit beyond 0711."""
    settings.calendars_dir.mkdir()
    settings.calendars_dir.chmod(before)
    rebuild_all(db, settings, clock())
    assert mode(settings.calendars_dir) == after
    assert {mode(path) for path in settings.calendars_dir.glob("*.ics")} == {feed}


def test_an_unchanged_feed_gets_its_mode_set_right_without_being_rewritten(db, settings, clock, desk):
    rebuild_all(db, settings, clock())
    path = next(settings.calendars_dir.glob("*.ics"))
    path.chmod(0o666)
    inode = path.stat().st_ino
    assert rebuild_all(db, settings, clock()).total == 0
    assert (mode(path), path.stat().st_ino) == (0o644, inode)


def test_the_web_server_sets_the_feed_folder_mode_on_start(env, settings, engine):
    settings.calendars_dir.mkdir()
    settings.calendars_dir.chmod(0o755)
    with web_process(env):
        assert mode(settings.calendars_dir) == 0o711


def test_file_modes_follow_who_may_enter_the_folder():
    assert [files.file_mode(m) for m in (0o711, 0o710, 0o701, 0o700)] == [0o644, 0o640, 0o604, 0o600]


def _write(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS t (x TEXT)"))
        connection.execute(text("INSERT INTO t VALUES ('secret')"))
    engine.dispose()


def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_0600_in_a_0700_folder(tmp_path):
    database = tmp_path / "var" / "changemgmt.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x TEXT)"))
        wal, shm = (database.with_name(database.name + suffix) for suffix in ("-wal", "-shm"))
        assert wal.exists() and shm.exists()  # while a connection is open
        assert (mode(database.parent), mode(database), mode(wal), mode(shm)) == (0o700, 0o600, 0o600, 0o600)
    engine.dispose()


def test_looser_modes_an_older_version_left_are_fixed_on_start(tmp_path):
    var = tmp_path / "var"
    database = var / "changemgmt.db"
    _write(f"sqlite:///{database}")
    (var / "secret_key").write_text("k")
    (var / "secret_key").chmod(0o600)
    companions = [database.with_name(database.name + s) for s in ("-wal", "-shm")]
    for path in companions:
        path.touch()
    for path in [database, *companions]:
        path.chmod(0o644)
    var.chmod(0o755)
    make_engine(f"sqlite:///{database}").dispose()
    assert [mode(p) for p in (var, database, *companions)] == [0o700, 0o600, 0o600, 0o600]


def test_a_database_beside_files_others_need_leaves_them_a_way_in(tmp_path):
    """Put in the project folder, beside calendars/ (which a web server running as
    another user must reach), the database's folder only stops being listable."""
    home = tmp_path / "home"
    (home / "calendars").mkdir(parents=True)
    (home / "calendars").chmod(0o711)
    home.chmod(0o755)
    _write(f"sqlite:///{home / 'changemgmt.db'}")
    assert (mode(home), mode(home / "changemgmt.db")) == (0o711, 0o600)


def test_a_shared_sticky_folder_is_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    _write(f"sqlite:///{shared / 'cm.db'}")
    assert (mode(shared), mode(shared / "cm.db")) == (0o1777, 0o600)
