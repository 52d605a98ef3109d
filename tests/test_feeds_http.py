"""Serving feeds over HTTP (SPEC §5, STANDARDS A41-A44): 200 with the right headers,
HEAD, 304 by ETag and by date, 404 for unknown and rotated tokens in the time a hit
takes. Through a real uvicorn on loopback, and the ASGI app directly for timing."""

from __future__ import annotations

import asyncio
import http.client
import os
import statistics
import threading
import time
from email.utils import formatdate

import httpx
import pytest
import uvicorn

from changemgmt.feeds.files import write_atomic
from changemgmt.feeds.manage import rotate_feed
from changemgmt.feeds.registry import Scope
from changemgmt.web.app import create_app
from support.web import free_port, web_process

UNKNOWN = "Z" * 43


@pytest.fixture
def feeds(published_feeds):
    return published_feeds


@pytest.fixture
def server(settings):
    """The app under a real uvicorn on a loopback port, in a thread."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server) as http:
        yield http


@pytest.fixture
def acme(feeds):
    return f"/calendars/{feeds.token('ACC-1001').file_name}"


def test_a_feed_is_served_with_its_headers(client, acme, feeds):
    response = client.get(acme)
    path = feeds.path("ACC-1001")
    assert response.status_code == 200
    assert response.content == path.read_bytes()
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"
    assert response.headers["last-modified"] == formatdate(int(path.stat().st_mtime), usegmt=True)
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert "content-encoding" not in response.headers


def test_head_sends_the_same_headers_and_no_body(client, acme):
    got, head = client.get(acme), client.head(acme)
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers[name] == got.headers[name]


@pytest.mark.parametrize("header", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_a_matching_if_none_match_gets_304(client, acme, header):
    etag = client.get(acme).headers["etag"]
    response = client.get(acme, headers={"If-None-Match": header.format(etag=etag)})
    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "private, max-age=300"
    assert client.get(acme, headers={"If-None-Match": '"other"'}).status_code == 200


def test_if_modified_since_gets_304_unless_the_file_is_newer(client, acme):
    modified = client.get(acme).headers["last-modified"]
    later = formatdate(time.time() + 3600, usegmt=True)
    earlier = formatdate(time.time() - 86400 * 365, usegmt=True)
    assert client.get(acme, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.head(acme, headers={"If-Modified-Since": later}).status_code == 304
    assert client.get(acme, headers={"If-Modified-Since": earlier}).status_code == 200
    assert client.get(acme, headers={"If-Modified-Since": "yesterday"}).status_code == 200
    # If-None-Match wins: a stale ETag gets the feed whatever the date says.
    assert client.get(acme, headers={"If-Modified-Since": later, "If-None-Match": '"old"'}).status_code == 200


def test_a_rewritten_file_is_served_at_once(client, acme, feeds):
    first = client.get(acme)
    path = feeds.path("ACC-1001")
    write_atomic(path.parent, path.name, first.content.replace(b"Fibre splice", b"Fibre repair"))
    second = client.get(acme, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and b"Fibre repair" in second.content
    assert second.headers["etag"] != first.headers["etag"]


def test_after_rotation_the_old_url_answers_404(client, acme, db, settings, feeds):
    assert client.get(acme).status_code == 200
    fresh = rotate_feed(db, settings, feeds.clock(), "ACC-1001", Scope.CUSTOMER, "alice")
    assert client.get(acme).status_code == 404
    assert client.get(f"/calendars/{fresh.file_name}").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/calendars/{UNKNOWN}.ics",
        "/calendars/short.ics",
        "/calendars/",
        "/calendars/../var/changemgmt.db",
        f"/calendars/.{UNKNOWN}.ics.abc.tmp",
    ],
)
def test_unknown_or_malformed_names_get_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "text/calendar" not in response.headers["content-type"]


@pytest.mark.parametrize("target", ["/etc/passwd", "elsewhere", "inside"])
def test_a_symbolic_link_named_like_a_feed_is_not_followed(client, feeds, settings, tmp_path, target):
    """Whether it points out of calendars/ (at /etc/passwd, at a feed copied elsewhere)
    or at another feed inside it, a symbolic link is not a feed."""
    real = feeds.path("ACC-1001")
    elsewhere = tmp_path / "copy.ics"
    elsewhere.write_bytes(real.read_bytes())
    link = settings.calendars_dir / f"{'L' * 43}.ics"
    link.symlink_to({"/etc/passwd": "/etc/passwd", "elsewhere": str(elsewhere), "inside": real.name}[target])
    assert link.read_bytes()  # the link itself works
    response = client.get(f"/calendars/{link.name}")
    assert response.status_code == 404 and b"root" not in response.content and b"VCALENDAR" not in response.content


def test_a_feed_replaced_by_a_symbolic_link_is_no_longer_served(client, acme, feeds, tmp_path):
    path = feeds.path("ACC-1001")
    assert client.get(acme).status_code == 200  # now in the cache
    (tmp_path / "saved.ics").write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(tmp_path / "saved.ics")
    assert client.get(acme).status_code == 404


def test_a_fifo_named_like_a_feed_neither_blocks_nor_is_served(client, feeds, settings):
    fifo = settings.calendars_dir / f"{'F' * 43}.ics"
    os.mkfifo(fifo)
    assert client.get(f"/calendars/{fifo.name}", timeout=5).status_code == 404
    assert client.get("/healthz", timeout=5).status_code == 200


def test_only_get_and_head_are_allowed(client, acme):
    response = client.post(acme)
    assert (response.status_code, response.headers["allow"]) == (405, "GET, HEAD")


def test_health_and_other_paths(client):
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/elsewhere").status_code == 404


def _median_micros(app, paths: list[str], rounds: int = 3000) -> dict[str, float]:
    async def send(message) -> None:
        pass

    async def run() -> dict[str, list[float]]:
        timings: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(rounds):
            for path in paths:  # interleaved, so load on the machine hits both alike
                scope = {"type": "http", "method": "GET", "path": path, "headers": [(b"host", b"feeds")]}
                start = time.perf_counter_ns()
                await app(scope, None, send)
                timings[path].append((time.perf_counter_ns() - start) / 1000)
        return timings

    return {path: statistics.median(values) for path, values in asyncio.run(run()).items()}


def test_an_unknown_token_takes_as_long_as_a_known_one(settings, acme):
    medians = _median_micros(create_app(settings), [acme, f"/calendars/{UNKNOWN}.ics"])
    hit, miss = medians.values()
    assert 0.6 < miss / hit < 1.5, medians


def test_over_http_an_unknown_token_takes_as_long_as_a_known_one(server, acme):
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    timings: dict[str, list[float]] = {acme: [], f"/calendars/{UNKNOWN}.ics": []}
    for _ in range(300):
        for path, values in timings.items():
            start = time.perf_counter()
            connection.request("GET", path)
            connection.getresponse().read()
            values.append(time.perf_counter() - start)
    connection.close()
    hit, miss = (statistics.median(values) for values in timings.values())
    assert 0.5 < miss / hit < 2.0, (hit, miss)


@pytest.fixture
def web(env):
    """`changemgmt web` in a process of its own: its URL, and a function that stops it
    and returns everything it logged."""
    with web_process(env) as running:
        yield running


def status_of(url: str, target: str) -> int:
    """GET `target` sent byte for byte as given (no client normalises it)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", target)
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_web_command_serves_feeds_and_keeps_tokens_out_of_the_log(web, acme):
    url, stop = web
    assert httpx.get(url + acme).status_code == 200
    log = stop()
    token = acme.split("/")[-1].removesuffix(".ics")
    assert 'GET /calendars/<redacted> HTTP/1.1" 200' in log
    assert token not in log


def spellings(token: str) -> list[str]:
    """The feed path of `token` sent in forms that mean, or nearly mean, the same."""
    return [
        f"/calendars%2F{token}.ics",
        f"/calendars%2f{token}.ics",
        f"/%63alendars/{token}.ics",
        f"/calendars/%{ord(token[0]):02X}{token[1:]}.ics",
        f"/calendars/{token}%2Eics",
        f"/calendars%252F{token}.ics",
        f"/CALENDARS/{token}.ics",
        f"//calendars/{token}.ics",
        f"/healthz/../calendars/{token}.ics",
        f"/elsewhere?next=/calendars/{token}.ics",
    ]


def test_only_the_canonical_feed_path_is_served_and_no_spelling_reaches_the_log(web, acme):
    url, stop = web
    token = acme.split("/")[-1].removesuffix(".ics")
    statuses = {target: status_of(url, target) for target in spellings(token)}
    assert status_of(url, acme) == 200
    log = stop()
    assert set(statuses.values()) == {404}, statuses
    assert token not in log, log
    assert log.count('/calendars/<redacted> HTTP/1.1" 404') == len(statuses)


@pytest.mark.parametrize("raw", [b"/calendars%2F{token}.ics", b"/%63alendars/{token}.ics", b"/calendars/{token}%2Eics"])
def test_the_route_answers_404_to_a_feed_path_not_sent_canonically(settings, acme, raw):
    """ASGI `path` is decoded, `raw_path` is what was sent: they must agree."""
    path = acme.encode()
    token = path.split(b"/")[-1].removesuffix(b".ics")
    sent = raw.replace(b"{token}", token)
    assert _status(create_app(settings), acme, path) == 200
    assert _status(create_app(settings), acme, sent) == 404


def _status(app, path: str, raw_path: bytes) -> int:
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": raw_path, "headers": []}
    asyncio.run(app(scope, None, send))
    return sent[0]["status"]
