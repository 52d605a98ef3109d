"""The shipped Procfile under honcho, as an operator runs it after `changemgmt db upgrade`:
web, clock and worker come up and stay up (the `release` entry waits under honcho rather
than exiting, which would make honcho stop everything), the clock and the worker beat, a
published GCR's notices go out, and a killed worker shows as not beating. Outside honcho,
`release` migrates and exits, as a platform's release phase expects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from changemgmt.store.db import make_engine, session_factory
from changemgmt.store.migrate import current_revision, head_revision
from support.blank import blank_database
from support.processes import ROOT, process_env, wait_for
from support.web import free_port
from world import build_world

BIN = Path(sys.executable).parent
FAST = {"CLOCK_TICK_SECONDS": "0.5", "HEARTBEAT_SECONDS": "0.5", "HEARTBEAT_TIMEOUT_SECONDS": "3"}


def changemgmt(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "changemgmt", *args], env=env, capture_output=True, text=True, timeout=120)


def status(env) -> dict:
    done = changemgmt(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def beating(env) -> dict[str, list[dict]]:
    """The processes `status` shows, by kind."""
    kinds: dict[str, list[dict]] = {}
    for process in status(env)["processes"]:
        kinds.setdefault(process["kind"], []).append(process)
    return kinds


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def site(tmp_path, database_url):
    """A new site: its own home and an empty database, migrated by `db upgrade`, with the small world."""
    home = tmp_path / "site"
    home.mkdir()
    with blank_database(database_url, tmp_path) as url:
        env = process_env({"CHANGEMGMT_HOME": str(home), "DATABASE_URL": url, **FAST})
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the Procfile calls `changemgmt`
        assert changemgmt(env, "db", "upgrade").returncode == 0
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            build_world(session)
        engine.dispose()
        yield home, env


@pytest.mark.slow
def test_honcho_runs_the_shipped_procfile_and_a_dead_worker_shows(site, tmp_path):
    home, env = site
    port = free_port()
    log = open(tmp_path / "honcho.log", "wb")  # noqa: SIM115 - honcho writes to it until stopped
    # honcho gives each Procfile entry PORT = base + 100 x its place: web is the second.
    honcho = subprocess.Popen(
        [BIN / "honcho", "start", "-f", ROOT / "Procfile", "-p", str(port - 100), "--no-colour"],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 60, "web answers /healthz")
        up = wait_for(lambda: (k := beating(env)) and "clock" in k and "worker" in k and k, 60, "clock and worker beat")
        assert up["clock"][0]["leader"] or wait_for(lambda: beating(env)["clock"][0]["leader"], 10, "the clock leads")
        soon = datetime.now(UTC) + timedelta(days=10)
        window = f"{soon:%Y-%m-%dT%H:%MZ}/{soon + timedelta(hours=1):%Y-%m-%dT%H:%MZ}"
        created = changemgmt(
            env, "gcr", "create", "--number", "GCR-9991", "--title", "Swap", "--description", "Swap a card.",
            "--window", window, "--impact", "GLBX-WAVE-1", "--impact", "ACME-ETH-1", "--publish", "confirmed",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        wait_for(lambda: len(list((home / "var" / "outbox").glob("*.eml"))) == 3, 60, "the notices go out")
        assert honcho.poll() is None  # everything is still up: `release` did not end honcho's run
        (worker,) = beating(env)["worker"]
        assert worker["beating"]
        killed = datetime.now(UTC)
        os.kill(worker["pid"], signal.SIGKILL)
        shown = wait_for(
            lambda: [w for w in beating(env).get("worker", []) if not w["beating"]], 3 + 10, "the worker not beating"
        )
        assert (datetime.now(UTC) - killed).total_seconds() < 3 + 10 and shown[0]["pid"] == worker["pid"]
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGTERM)
        honcho.wait(timeout=60)
        log.close()
    output = (tmp_path / "honcho.log").read_text()
    assert "release.1 | release (release.1): the schema is current" in output, output
    assert "Traceback" not in output, output


def test_release_outside_honcho_migrates_and_exits(tmp_path, database_url):
    with blank_database(database_url, tmp_path) as url:
        env = process_env({"CHANGEMGMT_HOME": str(tmp_path), "DATABASE_URL": url})
        env.pop("HONCHO_PROCESS_NAME", None)
        done = changemgmt(env, "release")
        engine = make_engine(url)
        try:
            assert current_revision(engine) == head_revision()
        finally:
            engine.dispose()
    assert done.returncode == 0 and done.stdout == f"release: database at revision {head_revision()}\n", done.stderr
