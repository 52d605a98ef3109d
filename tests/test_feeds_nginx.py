"""The example nginx config (deploy/nginx/calendars.conf) serving calendars/ directly:
a real nginx on a loopback port with a temporary prefix, checked for the headers, 304s,
404s and rotation the app itself gives (docs/serving-feeds.md)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from changemgmt.feeds.manage import rotate_feed
from changemgmt.feeds.registry import Scope

SNIPPET = Path(__file__).parents[1] / "deploy" / "nginx" / "calendars.conf"
MAIN = """
{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    gzip on;
    gzip_types *;
    gzip_min_length 0;
    server {{
        listen 127.0.0.1:{port};
        include {prefix}/calendars.conf;
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        reason = "nginx is not installed (Debian: apt-get install -y nginx)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(prefix: Path, home: Path, port: int) -> Path:
    (prefix / "calendars.conf").write_text(SNIPPET.read_text().replace("/srv/changemgmt", str(home)))
    # As root, nginx's workers would run as nobody, who cannot enter pytest's private folders.
    user = "user root;" if os.geteuid() == 0 else ""
    path = prefix / "nginx.conf"
    path.write_text(MAIN.format(user=user, prefix=prefix, port=port))
    return path


@pytest.fixture
def nginx(settings, tmp_path):
    binary = nginx_binary()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port = free_port()
    config = write_config(prefix, settings.home, port)
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail(f"nginx did not start: {process.stdout.read().decode()} {(prefix / 'error.log').read_text()}")
    with httpx.Client(base_url=url) as client:
        yield client
    process.terminate()
    process.wait(10)


@pytest.fixture
def feeds(published_feeds):
    return published_feeds


def test_nginx_serves_a_feed_with_the_right_headers(nginx, feeds):
    path = feeds.path("ACC-1001")
    response = nginx.get(f"/calendars/{path.name}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.content == path.read_bytes()
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"
    assert "content-encoding" not in response.headers  # gzip stays off for feeds
    assert response.headers["etag"] and response.headers["last-modified"]
    head = nginx.head(f"/calendars/{path.name}")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(path.read_bytes()))


def test_nginx_answers_304_by_etag_and_by_date(nginx, feeds):
    url = f"/calendars/{feeds.path('ACC-1001').name}"
    first = nginx.get(url)
    assert nginx.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert nginx.get(url, headers={"If-Modified-Since": first.headers["last-modified"]}).status_code == 304
    later = "Fri, 01 Jan 2100 00:00:00 GMT"
    assert nginx.get(url, headers={"If-Modified-Since": later}).status_code == 304
    assert nginx.get(url, headers={"If-Modified-Since": "Thu, 01 Jan 2004 00:00:00 GMT"}).status_code == 200


def test_nginx_404s_unknown_rotated_and_temporary_names(nginx, feeds, db, settings):
    old = feeds.path("ACC-1001").name
    (settings.calendars_dir / f".{old}.abc123.tmp").write_bytes(b"half a feed")
    assert nginx.get("/calendars/" + "Z" * 43 + ".ics").status_code == 404
    assert nginx.get(f"/calendars/.{old}.abc123.tmp").status_code == 404
    assert nginx.get("/calendars/").status_code == 404
    assert nginx.get(f"/calendars/{old}").status_code == 200
    fresh = rotate_feed(db, settings, feeds.clock(), "ACC-1001", Scope.CUSTOMER, "alice")
    assert nginx.get(f"/calendars/{old}").status_code == 404
    assert nginx.get(f"/calendars/{fresh.file_name}").status_code == 200


def test_nginx_does_not_follow_a_symbolic_link_named_like_a_feed(nginx, feeds, settings):
    link = settings.calendars_dir / f"{'L' * 43}.ics"
    link.symlink_to("/etc/passwd")
    inside = settings.calendars_dir / f"{'M' * 43}.ics"
    inside.symlink_to(feeds.path("ACC-1001").name)
    assert nginx.get(f"/calendars/{link.name}").status_code == 404
    assert nginx.get(f"/calendars/{inside.name}").status_code == 404
    assert nginx.get(f"/calendars/{feeds.path('ACC-1001').name}").status_code == 200
