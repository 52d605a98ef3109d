"""Every email tells its reader how to subscribe to the customer's calendar feed (and an
enterprise's contact, to its enterprise feed), beside its own preferences and unsubscribe
links, in text and HTML; a feed link taken from a sent email, fetched as a calendar
client fetches it, returns that customer's feed."""

from __future__ import annotations

import email
import re
from email import policy

import icalendar
import pytest

from changemgmt.delivery.transports import FileTransport
from changemgmt.delivery.worker import Worker
from changemgmt.feeds.publisher import rebuild_dirty
from support.feeds import parse
from support.public import client, public_server

GCR = {
    "number": "GCR-8301",
    "title": "Line card swap",
    "description": "Swapping a line card.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "DEGRADED"}, {"service": "ACME-ETH-1", "impact": "OUTAGE"}],
}
CALENDAR_CLIENT = {"User-Agent": "Google-Calendar-Importer", "Accept": "text/calendar, */*"}


@pytest.fixture
def mail(desk, engine, env, db, clock):
    """Serves the app, publishes the GCR and sends it; yields (http client, settings,
    {address: parsed email})."""
    with public_server(env, db, clock) as (url, settings):
        desk.publish(GCR)
        worker = Worker(engine, FileTransport(settings.outbox_dir), settings, clock)
        worker.drain()
        worker.close()
        received = {}
        for path in settings.outbox_dir.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            received[message["To"].addresses[0].addr_spec] = message
        with client(url) as http:
            yield http, settings, received


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def feed_links(text: str, base: str) -> list[str]:
    return re.findall(
        rf"(?:https?|webcal)://{re.escape(base.split('://')[1])}/calendars/[A-Za-z0-9_-]{{43}}\.ics", text
    )


def test_each_email_carries_its_customers_feed_and_its_recipients_own_links(mail):
    _, settings, received = mail
    base = settings.base_url
    for address in ("noc@acme.example", "ops@globex.example"):
        message = received[address]
        text, html = text_of(message), html_of(message)
        https, webcal = feed_links(text, base)
        assert https.startswith(base) and webcal == "webcal://" + https.split("://")[1]
        assert f'href="{webcal}"' in html and f'href="{https}"' in html
        unsubscribe = [u for u in re.findall(r"<([^>]+)>", message["List-Unsubscribe"]) if u.startswith("http")][0]
        token = unsubscribe.rsplit("/", 1)[1]
        assert f"Unsubscribe: {unsubscribe}" in text and f'href="{unsubscribe}"' in html
        assert f"Choose which notices you get: {base}/preferences/{token}" in text
        assert f'href="{base}/preferences/{token}"' in html
        assert "All accounts of" not in text + html  # not an enterprise's contact
    acme, globex = (feed_links(text_of(received[a]), base)[0] for a in ("noc@acme.example", "ops@globex.example"))
    assert acme != globex


def test_an_enterprise_contact_also_gets_its_enterprise_feed(mail):
    _, settings, received = mail
    own = text_of(received["noc@acme.example"])
    parent = text_of(received["it@acme-holdings.example"])
    assert "All accounts of Acme Holdings in one calendar" in parent
    account_feed = feed_links(own, settings.base_url)
    assert feed_links(parent, settings.base_url)[:2] == account_feed  # the account's feed first, then its enterprise's
    enterprise = feed_links(parent, settings.base_url)[2:]
    assert len(enterprise) == 2 and enterprise[0] not in account_feed
    assert "All accounts of Acme Holdings" in html_of(received["it@acme-holdings.example"])


def calendar(http, url: str) -> tuple[bytes, icalendar.Calendar]:
    answer = http.get(url, headers=CALENDAR_CLIENT)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    return answer.content, parse(answer.content)


def accounts(cal: icalendar.Calendar) -> set[str]:
    return {str(event["X-MAINTNOTE-ACCOUNT"]) for event in cal.walk("VEVENT")}


def test_a_feed_link_from_a_sent_email_returns_that_customers_feed(mail, db, clock):
    http, settings, received = mail
    rebuild_dirty(db, settings, clock())  # the clock's `feeds` job writes the feeds the worker created
    for address, account in (("noc@acme.example", "ACC-1001"), ("ops@globex.example", "ACC-2002")):
        https, webcal = feed_links(text_of(received[address]), settings.base_url)
        body, cal = calendar(http, https)
        assert accounts(cal) == {account}
        assert {str(e["X-MAINTNOTE-MAINTENANCE-ID"]) for e in cal.walk("VEVENT")} == {"GCR-8301"}
        # webcal:// is http:// to the clients that subscribe by it (STANDARDS A46).
        assert calendar(http, "http://" + webcal.split("://", 1)[1])[0] == body
    enterprise = feed_links(text_of(received["it@acme-holdings.example"]), settings.base_url)[2]
    assert accounts(calendar(http, enterprise)[1]) == {"ACC-1001"}  # its accounts' events


def sent_texts(engine, settings, clock) -> dict[str, str]:
    from changemgmt.delivery.transports import InMemoryTransport

    transport = InMemoryTransport()
    worker = Worker(engine, transport, settings, clock)
    worker.drain()
    worker.close()
    return {str(m["To"].addresses[0].addr_spec): text_of(m) for m in transport.emails}


def test_a_feed_whose_token_no_longer_opens_leaves_its_link_out_and_the_mail_goes(desk, engine, env, clock, caplog):
    from changemgmt.config import load_settings
    from changemgmt.feeds.publisher import rebuild_all

    rebuild_all(desk.db, load_settings({**env, "SECRET_KEY": "a" * 40}), clock())  # feeds sealed with another key
    desk.publish(GCR)
    texts = sent_texts(engine, load_settings({**env, "SECRET_KEY": "b" * 40}), clock)
    assert set(texts) == {"noc@acme.example", "it@acme-holdings.example", "ops@globex.example"}
    assert all("YOUR MAINTENANCE CALENDAR" not in text and "Unsubscribe: " in text for text in texts.values())
    assert "does not open with this SECRET_KEY" in caplog.text


def test_when_the_feed_links_cannot_be_read_the_mail_goes_without_them(desk, engine, settings, clock, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database blip")

    monkeypatch.setattr("changemgmt.delivery.worker.feed_links", broken)
    desk.publish(GCR)
    texts = sent_texts(engine, settings, clock)
    assert len(texts) == 3 and all("YOUR MAINTENANCE CALENDAR" not in text for text in texts.values())
