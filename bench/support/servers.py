"""What the PostgreSQL benchmarks share: a database to run in, the loopback SendGrid
(bench/support/fake_sendgrid.py) as a process of its own, and changemgmt's own processes
(`python -m changemgmt worker|clock`) started with one environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


class LoopbackSendGrid:
    """The fake SendGrid process (pinned to core `cpu` unless None); with `record`, it
    keeps when it took each notice."""

    def __init__(self, cpu: int | None, record: bool = False) -> None:
        script = ROOT / "bench" / "support" / "fake_sendgrid.py"
        pinned = ["--cpu", str(cpu)] if cpu is not None else []
        command = [sys.executable, str(script), *pinned] + (["--record"] if record else [])
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().split()[1]}"

    def stats(self) -> dict:
        return self._get("/stats")

    def accepted(self) -> list[tuple[int, int, float]]:
        """[(notice id, contact id, unix time it was accepted), ...], one per personalization."""
        return [(notice, contact, at) for notice, contact, at in self._get("/accepted")]

    def _get(self, path: str):
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def databases(url: str, keep: bool, prefix: str = "cm_bench"):
    """The database URL to use, and a function that cleans up after the run. With no
    database in `url`, one is created (`<prefix>_<pid>`) and dropped at the end."""
    parsed = make_url(url)
    if parsed.database:
        return url, lambda: None
    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(
        parsed.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return parsed.set(database=name).render_as_string(hide_password=False), drop


class Processes:
    """changemgmt processes, all with the same environment, each logging to `home`."""

    def __init__(self, url: str, home: str, sendgrid: str) -> None:
        self.env = os.environ | {
            "DATABASE_URL": url,
            "CHANGEMGMT_HOME": home,
            "EMAIL_BACKEND": "sendgrid",
            "SECRET_KEY": "bench-secret-key-of-at-least-32-bytes",
            "SENDGRID_API_KEY": "SG.bench",
            "SENDGRID_API_HOST": sendgrid,
            "PYTHONPATH": str(ROOT),
        }
        self.home = Path(home)
        self.running: list[subprocess.Popen] = []

    def start(self, *command: str, cpu: int | None = None) -> subprocess.Popen:
        """Starts `changemgmt *command`, pinned to core `cpu` if given."""
        log = open(self.home / f"{command[0]}-{len(self.running) + 1}.log", "w")  # noqa: SIM115 (the process's)
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        process = subprocess.Popen(
            [sys.executable, "-m", "changemgmt", *command],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=pin,
        )
        self.running.append(process)
        return process

    def stop(self, processes: list[subprocess.Popen] | None = None) -> None:
        """Stops `processes` (default: every one started) as an operator would (SIGTERM),
        killing those still running a minute later."""
        chosen = self.running if processes is None else processes
        for process in chosen:
            if process.poll() is None:
                process.terminate()
        for process in chosen:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
