"""Requests/second of our feed routes (FEED_STORE=files: the file in calendars/;
FEED_STORE=database: the feed_documents row) and of nginx serving the same file, in the
same run, for bench/feeds.py.

Each server gets one process (nginx: one worker) pinned to core 0; the load generator
runs on core 1: wrk when installed, else a small asyncio client (which then, not the
servers, may be the limit for nginx). PostgreSQL, when it is the database, is not
pinned: its backend answering the database route runs wherever the kernel puts it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NGINX_MAIN = """
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        include {prefix}/calendars.conf;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cores() -> tuple[list[str], list[str]]:
    """taskset prefixes for the server and for the load generator."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2 or shutil.which("taskset") is None:
        print("  (fewer than two cores or no taskset: nothing pinned)")
        return [], []
    return ["taskset", "-c", str(available[0])], ["taskset", "-c", str(available[1])]


def wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start_app(settings, pin: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "CHANGEMGMT_HOME": str(settings.home),
        "DATABASE_URL": settings.database_url,
        "FEED_STORE": settings.feed_store,
    }
    process = subprocess.Popen(
        [
            *pin,
            sys.executable,
            "-m",
            "changemgmt",
            "web",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/healthz", process)
    return process, url


def start_nginx(settings, pin: list[str]) -> tuple[subprocess.Popen, str] | None:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if binary is None:
        print("  nginx is not installed (apt-get install -y nginx): no comparison")
        return None
    prefix = settings.home / "nginx"
    prefix.mkdir(exist_ok=True)
    snippet = (ROOT / "deploy" / "nginx" / "calendars.conf").read_text()
    (prefix / "calendars.conf").write_text(snippet.replace("/srv/changemgmt", str(settings.home)))
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(NGINX_MAIN.format(user=user, prefix=prefix, port=port))
    process = subprocess.Popen(
        [
            *pin,
            binary,
            "-g",
            "daemon off;",
            "-p",
            str(prefix),
            "-e",
            str(prefix / "error.log"),
            "-c",
            str(prefix / "nginx.conf"),
        ]
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(url, process)
    return process, url


def wrk(pin: list[str], url: str, seconds: float, headers: dict[str, str]) -> float:
    command = [*pin, "wrk", "-t1", "-c64", f"-d{max(1, round(seconds))}s", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx" in output:
        raise RuntimeError(f"errors under load: {output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


async def _client(host: str, port: int, request: bytes, stop: float, counts: list[int]) -> None:
    """Sends the request over and over on a kept-alive connection, opening a new one when
    the server closes it (nginx does after `keepalive_requests`, 1,000 by default)."""
    while time.monotonic() < stop:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < stop:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if length and not head.startswith(b"HTTP/1.1 304"):
                    await reader.readexactly(int(length.group(1)))
                counts[0] += 1
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            writer.close()


def asyncio_load(url: str, seconds: float, headers: dict[str, str]) -> float:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    path = "/" + url.removeprefix("http://").split("/", 1)[1]
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    counts = [0]

    async def run() -> None:
        stop = time.monotonic() + seconds
        await asyncio.gather(*(_client(host, int(port), request, stop, counts) for _ in range(32)))

    asyncio.run(run())
    return counts[0] / seconds


def load(pin: list[str], url: str, seconds: float, headers: dict[str, str]) -> float:
    if shutil.which("wrk"):
        return wrk(pin, url, seconds, headers)
    return asyncio_load(url, seconds, headers)


def rates(servers: dict[str, str], name: str, pin: list[str], seconds: float) -> dict[tuple[str, int], float]:
    """Best of two rounds, servers interleaved, for 200 and for 304 (If-None-Match)."""
    found: dict[tuple[str, int], float] = {}
    for _ in range(2):
        for status in (200, 304):
            for server, base in servers.items():
                url = f"{base}/calendars/{name}"
                first = httpx.get(url)
                assert first.status_code == 200, (server, first.status_code)
                headers = {"If-None-Match": first.headers["etag"]} if status == 304 else {}
                assert httpx.get(url, headers=headers).status_code == status
                rate = load(pin, url, seconds, headers)
                found[(server, status)] = max(found.get((server, status), 0.0), rate)
    return found


FILES, DATABASE, NGINX = "file route", "database route", "nginx"


def measure_serving(settings, feed: Path, seconds: float, database_settings=None) -> None:
    """Loads each server with the same feed: our route on `settings` (files), on
    `database_settings` (FEED_STORE=database) when given, and nginx on the folder."""
    server_pin, client_pin = cores()
    print(
        f"serving {feed.stat().st_size} bytes ({feed.name[:6]}...), load by "
        f"{'wrk' if shutil.which('wrk') else 'an asyncio client'}, {seconds:g} s per run, best of 2:"
    )
    processes = []
    try:
        servers = {}
        for name, variant in ((FILES, settings), (DATABASE, database_settings)):
            if variant is not None:
                process, servers[name] = start_app(variant, server_pin)
                processes.append(process)
        nginx = start_nginx(settings, server_pin)
        if nginx:
            processes.append(nginx[0])
            servers[NGINX] = nginx[1]
        found = rates(servers, feed.name, client_pin, seconds)
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
    for status in (200, 304):
        print(f"  {status}: " + "; ".join(_figures(found, status)))


def _figures(found: dict[tuple[str, int], float], status: int) -> list[str]:
    files = found[(FILES, status)]
    figures = [f"file route {files:,.0f} req/s"]
    if (DATABASE, status) in found:
        ratio = found[(DATABASE, status)] / files
        figures.append(
            f"database route {found[(DATABASE, status)]:,.0f} req/s = {ratio:.0%} of the file route "
            f"(target >= 50%: {'met' if ratio >= 0.5 else 'NOT met'})"
        )
    if (NGINX, status) in found:
        ratio = files / found[(NGINX, status)]
        figures.append(
            f"nginx {found[(NGINX, status)]:,.0f} req/s (file route {ratio:.0%} of it, "
            f"target >= 12%: {'met' if ratio >= 0.12 else 'NOT met'})"
        )
    return figures
