"""Mistakes a new user makes, each answered in one line that names what to fix, with a
non-zero exit and no traceback: no schema yet, an old schema, a database that cannot be
reached, a bad DATABASE_URL or setting, a home that cannot be written, a missing file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from changemgmt.cli.main import cli
from changemgmt.store.db import make_engine
from changemgmt.store.migrate import current_revision, head_revision, recreate, upgrade
from support.blank import blank_database
from support.feeds import GCR
from support.smtp_server import free_port

ROOT = Path(__file__).resolve().parent.parent
WINDOW = "2030-01-10T02:00Z/2030-01-10T04:00Z"


@pytest.fixture
def blank_url(database_url, tmp_path):
    with blank_database(database_url, tmp_path) as url:
        yield url


@pytest.fixture
def blank_env(blank_url, tmp_path) -> dict[str, str]:
    return {"CHANGEMGMT_HOME": str(tmp_path), "DATABASE_URL": blank_url}


def changemgmt(env: dict[str, str], *args: str, expect: int = 1) -> str:
    """Runs the CLI as a shell would (settings read from `env`); returns what it printed."""
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.output


def one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    return lines[0]


def tables(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "args",
    [
        ("gcr", "create", "--number", "GCR-1", "--title", "t", "--description", "d", "--window", WINDOW),
        ("gcr", "show", "GCR-1"),
        ("gcr", "list"),
        ("gcr", "publish", "GCR-1"),
        ("preview", "GCR-1", "--account", "ACC-1"),
        ("plan", "--dry-run"),
        ("worker", "--once"),
        ("export", "--kind", "services"),
        ("feeds", "url", "ACC-1"),
        ("feeds", "rebuild", "--all"),
    ],
)
def test_a_command_before_db_upgrade_says_the_schema_is_missing_and_what_to_run(blank_env, blank_url, args):
    line = one_line(changemgmt(blank_env, *args))
    assert "has no schema" in line and f"expected {head_revision()}" in line
    assert "run `changemgmt db upgrade`" in line
    assert tables(blank_url) == []


def test_an_import_before_db_upgrade_says_so_too(blank_env, tmp_path):
    document = tmp_path / "customers.csv"
    document.write_text("account,name,parent_account,time_zone,active\nACC-1,Acme,,UTC,true\n")
    assert "run `changemgmt db upgrade`" in one_line(changemgmt(blank_env, "import", str(document)))


def test_an_old_schema_names_its_revision_and_the_expected_one(blank_env, blank_url):
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    engine.dispose()
    line = one_line(changemgmt(blank_env, "gcr", "show", "GCR-1"))
    assert f"schema is at revision 0002, behind the expected {head_revision()}" in line
    assert "run `changemgmt db upgrade`" in line
    assert "database at revision" in changemgmt(blank_env, "db", "upgrade", expect=0)
    assert "no GCR GCR-1" in one_line(changemgmt(blank_env, "gcr", "show", "GCR-1"))


def test_a_schema_newer_than_this_changemgmt_says_to_upgrade_changemgmt(blank_env, blank_url):
    changemgmt(blank_env, "db", "upgrade", expect=0)
    engine = make_engine(blank_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    for args in (("gcr", "list"), ("db", "upgrade"), ("demo", "--customers", "20", "--services", "80")):
        line = one_line(changemgmt(blank_env, *args))
        assert "revision 0099" in line and f"expects {head_revision()}" in line and "upgrade changemgmt" in line


def test_db_upgrade_and_demo_migrate_by_themselves(blank_env, blank_url):
    assert f"database at revision {head_revision()}" in changemgmt(blank_env, "db", "upgrade", expect=0)
    engine = make_engine(blank_url)
    recreate(engine, "0002")
    assert "behind the expected" in one_line(changemgmt(blank_env, "gcr", "list"))
    changemgmt(blank_env, "demo", "--customers", "20", "--services", "80", expect=0)
    assert current_revision(engine) == head_revision()
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"postgresql://postgres@127.0.0.1:{free_port()}/changemgmt", "cannot use the database"),
        ("mysql+nosuchdriver://db/x", "DATABASE_URL"),
        ("not a url", "DATABASE_URL"),
    ],
    ids=["server-down", "no-such-driver", "not-a-url"],
)
def test_a_database_that_cannot_be_reached_or_named_is_one_line(tmp_path, url, expected):
    line = one_line(changemgmt({"CHANGEMGMT_HOME": str(tmp_path), "DATABASE_URL": url}, "gcr", "list"))
    assert expected in line and "DATABASE_URL" in line


def test_the_password_in_database_url_is_never_printed(tmp_path):
    url = f"postgresql://cm:s3cret-pw@127.0.0.1:{free_port()}/changemgmt"
    line = one_line(changemgmt({"CHANGEMGMT_HOME": str(tmp_path), "DATABASE_URL": url}, "gcr", "list"))
    assert "s3cret-pw" not in line and "127.0.0.1" in line


def test_a_home_that_cannot_be_written_names_the_path(tmp_path):
    home = tmp_path / "not-a-folder"
    home.write_text("a file where CHANGEMGMT_HOME should be")
    line = one_line(changemgmt({"CHANGEMGMT_HOME": str(home), "DATABASE_URL": ""}, "db", "upgrade"))
    assert str(home) in line


def test_an_outbox_that_cannot_be_written_names_the_path(env, db, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    line = one_line(changemgmt({**env, "OUTBOX_DIR": str(blocker / "outbox")}, "worker", "--once"))
    assert str(blocker / "outbox") in line


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("MINIMUM_NOTICE_DAYS", "a week", "MINIMUM_NOTICE_DAYS"),
        ("EMAIL_BACKEND", "pigeon", "EMAIL_BACKEND"),
    ],
)
def test_a_bad_setting_is_named(env, db, setting, value, expected):
    assert expected in one_line(changemgmt({**env, setting: value}, "gcr", "list"))


def test_sendgrid_without_its_key_is_named(env, db):
    assert "SENDGRID_API_KEY" in one_line(changemgmt({**env, "EMAIL_BACKEND": "sendgrid"}, "worker", "--once"))


def test_a_missing_gcr_file_is_named(env, db, tmp_path):
    assert "missing.yaml" in one_line(changemgmt(env, "gcr", "create", str(tmp_path / "missing.yaml")))


def shell_env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **env, "PYTHONPATH": str(ROOT)}


def test_a_real_terminal_sees_one_line_on_stderr_and_no_traceback(blank_env):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "changemgmt",
            "gcr",
            "create",
            "--number",
            "GCR-1",
            "--title",
            "t",
            "--description",
            "d",
            "--window",
            WINDOW,
        ],
        env=shell_env(blank_env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "changemgmt db upgrade" in done.stderr, done.stderr


def test_ctrl_c_stops_the_worker_without_a_traceback(env, desk):
    desk.publish(GCR)  # so that the worker's first round prints: then it is surely running
    worker = subprocess.Popen(
        [sys.executable, "-m", "changemgmt", "worker", "--idle", "60"],
        env={**shell_env(env), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "sent or settled" in worker.stdout.readline()
        worker.send_signal(signal.SIGINT)
        out, err = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert "Traceback" not in err and worker.returncode in (0, 1), err  # 1: "Aborted!" mid-statement
