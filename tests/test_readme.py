"""The README's "Working with it" commands, read from README.md itself and run as written
by a shell, in a folder set up as a fresh clone after command 1 (`demo` done): when the
README drifts from what works, this fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from changemgmt.store.db import normalize_url
from support.blank import blank_database

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def working_with_it() -> str:
    """The shell blocks of the README's "Working with it" section, in order."""
    section = re.search(r"^## Working with it\n(.*?)(?=^## )", README.read_text(), re.S | re.M)
    assert section, "README.md has no 'Working with it' section"
    blocks = re.findall(r"^```sh\n(.*?)^```", section.group(1), re.S | re.M)
    assert blocks, "the 'Working with it' section has no ```sh block"
    return "".join(blocks)


def shell_env(database_url: str | None) -> dict[str, str]:
    """The environment of a new user's shell: no changemgmt settings, no `changemgmt` on
    the PATH (the README must say how to reach it), the default database unless one is given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "CHANGEMGMT_HOME",
            "OUTBOX_DIR",
            "CALENDARS_DIR",
            "EMAIL_BACKEND",
            "VIRTUAL_ENV",
            "PYTHONPATH",
        )
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and not (Path(p) / "changemgmt").exists()
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@pytest.fixture
def clone(tmp_path, database_url):
    """A folder as a fresh clone is after command 1: its .venv, a demo database."""
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    with blank_database(database_url, tmp_path) as url:
        on_sqlite = make_url(normalize_url(url)).get_backend_name() == "sqlite"
        env = shell_env(None if on_sqlite else url)  # SQLite: the default, var/changemgmt.db
        demo = subprocess.run(
            [".venv/bin/changemgmt", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        yield tmp_path, env


@pytest.mark.slow
def test_the_working_with_it_commands_run_as_written_on_a_fresh_demo(clone):
    folder, env = clone
    done = subprocess.run(
        ["bash", "-e", "-c", working_with_it()], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Error" not in output and "Traceback" not in output, output
    for expected in (
        "GCR-1001: draft, revision 1",
        "GCR-1001: confirmed",
        "GCR-1001: cancelled",
        "GCR-5002: completed",
        "sent or settled",
        ".eml",
        "/calendars/",
    ):
        assert expected in done.stdout, f"{expected!r} not in:\n{output}"
