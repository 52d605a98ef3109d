"""What the PostgreSQL benchmarks share: a database to run in, and the loopback SendGrid
(bench/support/fake_sendgrid.py) as a process of its own, pinned to its own core."""

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
