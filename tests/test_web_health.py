"""/healthz and /readyz through a real uvicorn: /healthz answers for the process; /readyz
checks the database, its schema and the process's own readiness callback, answers 503
with the problems when one fails, and never holds up the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import httpx

from changemgmt.store.db import make_engine
from changemgmt.store.migrate import head_revision, upgrade
from changemgmt.web.app import create_app
from support.asgi_server import serving
from support.waiting import eventually
from support.web import free_port, web_process


async def teapot(scope, receive, send) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def ready(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=10)


def test_healthz_and_readyz_are_answered_before_the_fallback(settings, db):
    with serving(create_app(settings, fallback=teapot)) as url:
        assert httpx.get(f"{url}/healthz").text == "ok\n"
        answer = ready(url)
        assert (answer.status_code, answer.json()) == (200, {"ready": True, "problems": []})
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["cache-control"] == "no-store"
        assert httpx.get(f"{url}/elsewhere").status_code == 418
        assert httpx.post(f"{url}/readyz").status_code == 405
        head = httpx.head(f"{url}/readyz")
        assert (head.status_code, head.content) == (200, b"")


def test_the_readiness_callbacks_problems_make_it_fail_and_its_recovery_pass(settings, db):
    """As `serve` does with its threads: a thread that dies is reported at once (within
    the second the checks are cached)."""
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=True)
    worker.start()
    problems = lambda: [] if worker.is_alive() else ["worker thread is not running"]  # noqa: E731
    with serving(create_app(settings, readiness=problems)) as url:
        assert ready(url).status_code == 200
        stop.set()
        worker.join()
        failing = eventually(lambda: (r := ready(url)).status_code == 503 and r)
        assert failing.json() == {"ready": False, "problems": ["worker thread is not running"]}


def test_a_schema_behind_the_code_is_not_ready_and_says_what_to_run(settings, tmp_path, db):
    old = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(old, "0004")
    with serving(create_app(settings, engine=old)) as url:
        answer = ready(url)
    old.dispose()
    assert answer.status_code == 503
    assert answer.json()["problems"] == [
        f"schema: the database schema is at revision 0004, behind the expected {head_revision()}: "
        "run `changemgmt db upgrade`"
    ]


def test_an_unreachable_database_is_not_ready_and_the_log_says_why(settings, caplog):
    unreachable = replace(settings, database_url=f"postgresql://cm:secret@127.0.0.1:{free_port()}/cm")
    with serving(create_app(unreachable)) as url:
        answer = ready(url)
    assert answer.status_code == 503
    (problem,) = answer.json()["problems"]
    assert problem.startswith("database: cannot be used (OperationalError")
    assert "127.0.0.1" not in answer.text and "secret" not in answer.text
    (logged,) = [r for r in caplog.records if r.getMessage().startswith("not ready")]
    assert logged.event == "not_ready" and "127.0.0.1" in logged.details[0]


def test_a_slow_check_answers_503_in_time_and_the_loop_serves_meanwhile(settings, db, published_feeds):
    release, calls = threading.Event(), []

    def stuck() -> list[str]:
        calls.append(1)
        release.wait(30)
        return []

    feed = f"/calendars/{published_feeds.token('ACC-1001').file_name}"
    with serving(create_app(settings, readiness=stuck)) as url:

        async def probes():
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                waiting = [asyncio.create_task(client.get("/readyz")) for _ in range(20)]
                await asyncio.sleep(0.2)  # the probes are in: one check runs, stuck
                started = time.monotonic()
                served = [await client.get("/healthz"), await client.get(feed)]
                meanwhile = time.monotonic() - started
                return await asyncio.gather(*waiting), served, meanwhile

        try:
            answers, served, meanwhile = asyncio.run(probes())
        finally:
            release.set()
    assert [r.status_code for r in served] == [200, 200] and meanwhile < 1.0
    assert {r.status_code for r in answers} == {503}
    assert answers[0].json()["problems"] == ["the checks took longer than 2 s (is the database answering?)"]
    assert len(calls) == 1  # twenty probes, one check


def test_the_web_command_is_ready_on_a_migrated_database(env, db):
    with web_process(env) as (url, _):
        assert ready(url).json() == {"ready": True, "problems": []}
        metrics = httpx.get(f"{url}/metrics")
    assert metrics.status_code == 200 and "changemgmt_database_up 1.0" in metrics.text
