"""`changemgmt import` and `changemgmt export` end to end, through click."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from changemgmt.cli.inventory import export_command, import_command
from changemgmt.store.models import AuditEntry, Customer, Location

DATA = Path(__file__).parent / "data" / "inventory"


class App:
    """The little the inventory commands ask of `ctx.obj`."""

    def __init__(self, settings, factory, now) -> None:
        self.settings = settings
        self.actor = "cli:carol"
        self._factory = factory
        self._now = now

    def session_factory(self):
        return self._factory

    def now(self):
        return self._now


@pytest.fixture
def run(db, settings, now):
    group = click.Group(commands=[import_command, export_command])

    def run(*args: str):
        return CliRunner().invoke(group, list(args), obj=App(settings, db, now))

    return run


def test_import_prints_a_summary_and_records_who_imported(run, db):
    result = run("import", str(DATA / "locations.csv"))
    assert (result.exit_code, result.stdout) == (0, "locations: 3 rows (3 new, 0 updated)\n")
    with db() as session:
        assert session.scalars(select(AuditEntry.actor)).one() == "cli:carol"


def test_import_takes_an_actor_and_a_kind(run, db):
    result = run("import", str(DATA / "inventory.json"), "--kind", "locations", "--actor", "dave")
    assert (result.exit_code, result.stdout) == (0, "locations: 2 rows (2 new, 0 updated)\n")
    with db() as session:
        assert session.scalars(select(AuditEntry.actor)).one() == "dave"


def test_a_bad_file_lists_every_bad_row_on_stderr_and_exits_1(run, db, tmp_path):
    file = tmp_path / "locations.csv"
    file.write_text("code,country,time_zone\nL-1,US,UTC\nL-2,USA,UTC\nL-3,US,Moon/Base\n")
    result = run("import", str(file))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 3: country: 'USA' is not a two-letter country code (ISO 3166, e.g. US)",
        "line 4: time_zone: 'Moon/Base' is not an IANA time zone (e.g. Europe/Paris)",
        f"{file}: 2 problems found; nothing was imported",
    ]
    assert result.stdout == ""
    with db() as session:
        assert session.scalars(select(Location)).all() == []


def test_a_dry_run_says_so_and_writes_nothing(run, db):
    result = run("import", str(DATA / "locations.csv"), "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["locations: 3 rows (3 new, 0 updated)", "dry run: nothing was written"]
    with db() as session:
        assert session.scalars(select(Location)).all() == []


def test_formula_warnings_go_to_stderr(run, tmp_path):
    file = tmp_path / "customers.csv"
    file.write_text("account,name\nA-1,=cmd\n")
    result = run("import", str(file))
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: line 2: name: starts with '='")


def test_no_progress_bar_is_drawn_when_stderr_is_not_a_terminal(run):
    result = run("import", str(DATA / "customers.csv"))
    assert (result.exit_code, result.stderr) == (0, "")


def test_export_writes_csv_to_stdout(run):
    run("import", str(DATA / "locations.csv"))
    result = run("export", "--kind", "locations")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "code,name,address,city,region,country,time_zone"
    assert result.stderr == "locations: 3 rows exported\n"


def test_export_writes_json_to_a_file_that_imports_back(run, tmp_path):
    for kind in ("locations", "customers", "contacts", "services"):
        run("import", str(DATA / f"{kind}.csv"))
    output = tmp_path / "inventory.json"
    assert run("export", "-o", str(output)).exit_code == 0
    assert [len(items) for items in json.loads(output.read_text()).values()] == [3, 4, 3, 4]
    again = run("import", str(output))
    assert (again.exit_code, again.stdout.splitlines()[-1]) == (0, "services: 4 rows (0 new, 4 updated)")
    assert list(tmp_path.iterdir()) == [output]


def test_a_csv_export_without_a_kind_is_a_usage_error(run):
    result = run("export", "--format", "csv")
    assert result.exit_code == 2
    assert "give --kind" in result.stderr


def test_importing_a_missing_file_is_a_usage_error(run, tmp_path):
    result = run("import", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2


def changemgmt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Runs the real CLI in a process of its own, with 2 GiB of memory and a minute at
    most: a crash (a signal, returncode < 0), a hang or a blow-up fails the test instead
    of taking pytest, or the machine, down with it."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run(
        [sys.executable, "-m", "changemgmt", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit_memory,
    )


@pytest.mark.parametrize("number", ["7" * 4301, "-" + "7" * 5000, "7" * 1_000_000])
def test_a_json_number_too_long_for_python_is_refused_not_a_crash(db, env, tmp_path, number):
    file = tmp_path / "inventory.json"
    file.write_text(f'{{"locations": [{{"code": "L-1", "name": {number}}}]}}')
    done = changemgmt(env, "import", str(file))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        "line 1, column 40: a number of more than 100 characters; no inventory field is that long",
        f"{file}: 1 problem found; nothing was imported",
    ]


def test_json_nested_100000_deep_is_refused_at_once(db, env, tmp_path):
    file = tmp_path / "inventory.json"
    file.write_text('{"locations": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    done = changemgmt(env, "import", str(file))
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        1,
        "locations[0]: is nested more than 10 levels deep; an inventory item is a flat object",
    )


def test_a_lone_surrogate_escape_is_refused_not_stored_as_a_question_mark(db, env, tmp_path):
    file = tmp_path / "inventory.json"
    file.write_text('{"customers": [{"account": "A-1", "name": "a\\ud800b"}]}')
    done = changemgmt(env, "import", str(file))
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        1,
        'line 1, column 45: "\\ud800" is half of a UTF-16 surrogate pair, alone: it stands for no character',
    )
    with db() as session:
        assert session.scalars(select(Customer.name)).all() == []


def test_a_semicolon_separated_file_is_explained(run, tmp_path):
    file = tmp_path / "customers.csv"
    file.write_text("account;name;time_zone\nA-1;One;UTC\n")
    result = run("import", str(file))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 1: header: this file seems to use ';' between columns; changemgmt reads comma-separated files",
        f"{file}: 1 problem found; nothing was imported",
    ]
