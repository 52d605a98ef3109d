"""A GCR's whole life driven through the API only (create, publish, reschedule, cancel),
the notices checked at the outbox and in the API's own notices list; a customer's feed
URLs from the API, fetched as a calendar client would, and rotated."""

from __future__ import annotations

import email
from email import policy

import httpx
import icalendar
import pytest

from changemgmt.delivery.transports import FileTransport
from changemgmt.delivery.worker import Worker
from changemgmt.feeds.publisher import rebuild_dirty
from support.api import api_server
from support.feeds import GCR


@pytest.fixture
def api(db, engine, settings, clock, desk):
    with api_server(db, engine, settings, clock) as world:
        yield world


@pytest.fixture
def worker(engine, settings, clock):
    worker = Worker(engine, FileTransport(settings.outbox_dir), settings, clock)
    yield worker
    worker.close()


def outbox(settings) -> list[tuple[str, str]]:
    """(recipient, notice kind) of every message written, oldest first."""
    found = []
    for path in sorted(settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        found.append((message["To"].addresses[0].addr_spec, message["X-MAINTNOTE-STATUS"] or ""))
    return found


def kinds(client, account: str) -> list[str]:
    items = client.get("/api/v1/gcrs/GCR-1001/notices", params={"account": account}).json()["items"]
    return [n["kind"] for n in items]


def test_a_gcr_life_through_the_api(api, worker, settings, clock):
    with api.client("change_manager") as client:
        made = client.post("/api/v1/gcrs", json=GCR)
        published = client.post("/api/v1/gcrs/GCR-1001/publish", headers={"If-Match": made.headers["etag"]})
        assert published.json()["notices_planned"] == {"new": 2}
        worker.drain()
        sent = client.get("/api/v1/gcrs/GCR-1001/notices").json()["items"]
        assert {(n["account"], n["kind"], n["state"]) for n in sent} == {
            ("ACC-1001", "new", "sent"),
            ("ACC-2002", "new", "sent"),
        }
        delivery = sent[0]["deliveries"][0]
        assert (
            delivery["state"] == "sent" and delivery["attempts"] == 1 and delivery["recipients"][0]["state"] == "sent"
        )
        clock.advance(hours=1)
        moved = client.patch(
            "/api/v1/gcrs/GCR-1001",
            json={
                "windows": [
                    {"number": 1, "start": "2026-12-02T07:00Z", "end": "2026-12-02T11:00Z"},
                    {"number": 2, "start": "2026-12-08T07:00Z", "end": "2026-12-08T11:00Z"},
                ]
            },
            headers={"If-Match": published.headers["etag"]},
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["notices_planned"] == {"rescheduled": 2}
        worker.drain()
        clock.advance(hours=1)
        cancelled = client.post("/api/v1/gcrs/GCR-1001/cancel", json={"reason": "Crew unavailable"})
        assert cancelled.json()["notices_planned"] == {"cancelled": 2}
        worker.drain()
        assert kinds(client, "ACC-1001") == ["new", "rescheduled", "cancelled"]
        assert kinds(client, "ACC-3003") == []
    received = outbox(settings)
    assert [to for to, _ in received].count("noc@acme.example") == 3
    assert [to for to, _ in received].count("ops@globex.example") == 3
    assert not any(to == "noc@initech.example" for to, _ in received)


def test_feed_urls_serve_the_customer_feed_and_rotate(api, db, settings, clock):
    with api.client("change_manager") as client:
        client.post("/api/v1/gcrs", json=GCR, params={})
        client.post("/api/v1/gcrs/GCR-1001/publish")
        rebuild_dirty(db, settings, clock())
        feeds = client.get("/api/v1/customers/ACC-1001/feeds").json()["feeds"]
        enterprise = client.get("/api/v1/customers/ENT-100/feeds").json()["feeds"]
        assert client.get("/api/v1/customers/NOPE/feeds").status_code == 404
    assert [f["scope"] for f in feeds] == ["customer"]
    assert [f["scope"] for f in enterprise] == ["customer", "enterprise"]
    url = feeds[0]["url"]
    assert feeds[0]["webcal_url"] == "webcal://" + url.split("://", 1)[1]
    local = url.replace(settings.base_url, api.url)
    calendar = icalendar.Calendar.from_ical(httpx.get(local).content)
    summaries = [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]
    assert len(summaries) == 2 and all("Fibre splice" in s for s in summaries)
    with api.client("admin", **{"Idempotency-Key": "rotate-1"}) as client:
        rotated = client.post("/api/v1/customers/ACC-1001/feeds/rotate")
        replay = client.post("/api/v1/customers/ACC-1001/feeds/rotate")
    assert rotated.status_code == 200 and replay.json() == rotated.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert httpx.get(local).status_code == 404
    assert httpx.get(rotated.json()["url"].replace(settings.base_url, api.url)).status_code == 200
