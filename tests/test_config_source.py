"""Settings are read in one place: `config.load_settings` is the one reader of the
environment; the command line's own options (`--host`, `--port`, `--actor`) take theirs
through click, which names the variable when its value is wrong."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import changemgmt
from changemgmt.cli.context import AppContext
from changemgmt.cli.main import cli
from changemgmt.config import load_settings

PACKAGE = Path(changemgmt.__file__).parent
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def reads_of_the_environment(path: Path) -> list[int]:
    """The lines of `path` that touch os.environ, os.getenv and the like."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and ENVIRONMENT & {a.name for a in node.names}:
            lines.append(node.lineno)
    return lines


def test_only_config_reads_the_environment():
    readers = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := reads_of_the_environment(path))
    }
    assert set(readers) == {"config.py"}, readers


@pytest.mark.parametrize("command", ["web", "serve"])
def test_a_port_that_is_no_number_is_one_line_naming_port(env, now, command):
    result = CliRunner().invoke(
        cli,
        [command],
        obj=AppContext(load_settings(env), "carol", lambda: now),
        env={**env, "PORT": "eighty"},
        catch_exceptions=False,
    )
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--port' (env var: 'PORT'): 'eighty' is not a valid integer."
    )


def test_changemgmt_actor_names_who_makes_the_change(run, desk, env):
    env["CHANGEMGMT_ACTOR"] = "dave"
    run(
        "gcr",
        "create",
        "--number",
        "GCR-8201",
        "--title",
        "Card swap",
        "--description",
        "Swap a card.",
        "--window",
        "2026-12-05T02:00Z/2026-12-05T03:00Z",
        "--impact",
        "GLBX-WAVE-1",
    )
    shown = json.loads(run("gcr", "show", "GCR-8201", "--json"))
    assert [entry["actor"] for entry in shown["audit"]] == ["dave"]
