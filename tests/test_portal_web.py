"""The customer portal over HTTP: signing in (CSRF, cookie flags, throttling), each user's
maintenance only, GCR pages, .ics, subscribe links, the switcher and default enterprise,
and isolation: another customer's GCR or account is not found."""

from __future__ import annotations

import httpx
import icalendar
import pytest
from sqlalchemy import select

from changemgmt.store import models
from changemgmt.store.db import transaction
from support.feeds import GCR
from support.portal import ACCOUNT, ENTERPRISE, PASSWORD, csrf_of, customer_user, portal_server, signed_in_client

GLOBEX_ONLY = {
    "number": "GCR-2001",
    "title": "Houston wave upgrade",
    "description": "New line cards.",
    "windows": [{"start": "2026-12-03T07:00Z", "end": "2026-12-03T09:00Z"}],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "OUTAGE"}],
}
INITECH_ONLY = {
    "number": "GCR-3001",
    "title": "Houston access router swap",
    "description": "Router swap.",
    "windows": [{"start": "2026-12-04T07:00Z", "end": "2026-12-04T09:00Z"}],
    "impacts": [{"service": "INIT-ETH-9", "impact": "OUTAGE"}],
}


@pytest.fixture
def world(desk, db, clock):
    for document in (GCR, GLOBEX_ONLY, INITECH_ONLY):
        desk.publish(document)
    acme = customer_user(
        db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE), ("ACC-3003", ACCOUNT)], default="ENT-100"
    )
    globex = customer_user(db, clock, "noc@globex.example", [("ACC-2002", ACCOUNT)])
    return {"acme": acme, "globex": globex}


@pytest.fixture
def url(settings, clock, world):
    with portal_server(settings, clock) as url:
        yield url


def test_it_signs_in_to_the_default_enterprise_and_shows_only_its_maintenance(url):
    client = signed_in_client(url, "ops@acme.example")
    assert str(client.get("/portal/").url).endswith("/portal/ENT-100/")
    page = client.get("/portal/ENT-100/").text
    assert "GCR-1001" in page and "ACME-ETH-1" not in page  # the list counts services
    assert "GCR-2001" not in page and "GCR-3001" not in page
    assert "Globex" not in page and "GLBX" not in page


def test_a_gcr_page_shows_only_the_users_own_services_in_its_zone_and_utc(url):
    client = signed_in_client(url, "ops@acme.example")
    page = client.get("/portal/ENT-100/gcrs/GCR-1001").text
    assert "ACME-ETH-1" in page and "ACME-DIA-2" in page
    assert "GLBX-WAVE-1" not in page and "Globex" not in page
    assert "Tue 1 Dec 2026 01:00 CST (07:00 UTC)" in page  # the user's zone, America/Chicago


def test_other_customers_gcrs_and_accounts_are_not_found(url):
    client = signed_in_client(url, "ops@acme.example")
    assert client.get("/portal/ENT-100/gcrs/GCR-2001").status_code == 404  # Globex's
    assert client.get("/portal/ENT-100/gcrs/GCR-9999").status_code == 404  # none
    assert client.get("/portal/ACC-2002/").status_code == 404  # Globex's account
    assert client.get("/portal/ENT-100/gcrs/GCR-1001/ACC-2002.ics").status_code == 404
    globex = signed_in_client(url, "noc@globex.example")
    assert globex.get("/portal/ACC-2002/gcrs/GCR-1001").status_code == 200
    page = globex.get("/portal/ACC-2002/gcrs/GCR-1001").text
    assert "ACME" not in page and "Acme" not in page
    assert globex.get("/portal/ENT-100/").status_code == 404


def test_switching_enterprise_shows_that_grants_maintenance_and_the_default_sticks(url):
    client = signed_in_client(url, "ops@acme.example")
    page = client.get("/portal/switch", params={"to": "ACC-3003"})
    assert str(page.url).endswith("/portal/ACC-3003/")
    assert "GCR-3001" in page.text and "GCR-1001" not in page.text
    client.post("/portal/default", data={"root": "ACC-3003", "csrf": csrf_of(page.text)})
    fresh = signed_in_client(url, "ops@acme.example")
    assert str(fresh.get("/portal/").url).endswith("/portal/ACC-3003/")


def test_the_ics_download_is_the_customers_bcop_calendar(url):
    client = signed_in_client(url, "ops@acme.example")
    reply = client.get("/portal/ENT-100/gcrs/GCR-1001/ACC-1001.ics")
    assert reply.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(reply.content)
    ids = {str(v) for e in calendar.walk("VEVENT") for v in _list(e.get("X-MAINTNOTE-OBJECT-ID"))}
    assert ids == {"ACME-ETH-1", "ACME-DIA-2"}


def _list(value):
    return value if isinstance(value, list) else [value]


def test_subscribe_offers_the_enterprise_and_account_feeds_as_webcal_google_and_outlook(url):
    client = signed_in_client(url, "ops@acme.example")
    page = client.get("/portal/ENT-100/subscribe").text
    assert page.count("webcal://") >= 2 and "calendar.google.com" in page and "outlook.office.com" in page
    feed = page.split('readonly value="')[1].split('"')[0]
    served = httpx.get(feed.replace("http://localhost:8000", url))
    assert served.status_code == 200 and b"GLBX" not in served.content


def test_forms_without_the_sessions_csrf_token_are_refused(url):
    client = signed_in_client(url, "ops@acme.example")
    assert client.post("/portal/default", data={"root": "ACC-3003"}).status_code == 403
    assert client.post("/portal/default", data={"root": "ACC-3003", "csrf": "forged"}).status_code == 403
    assert client.post("/signout", data={}).status_code == 403
    stranger = httpx.Client(base_url=url)
    reply = stranger.post("/signin", data={"email": "ops@acme.example", "password": "correct horse battery"})
    assert reply.status_code == 403
    assert stranger.get("/portal/ENT-100/").status_code == 303  # still not signed in


def test_the_session_cookie_is_httponly_and_samesite_lax(url):
    client = httpx.Client(base_url=url)
    form = client.get("/signin")
    cookie = form.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # BASE_URL is http
    reply = client.post(
        "/signin", data={"email": "ops@acme.example", "password": "correct horse battery", "csrf": csrf_of(form.text)}
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/portal/"


def test_signing_out_ends_the_session(url):
    client = signed_in_client(url, "ops@acme.example")
    page = client.get("/portal/ENT-100/")
    client.post("/signout", data={"csrf": csrf_of(page.text)})
    assert str(client.get("/portal/ENT-100/").url).startswith(f"{url}/signin")


def test_a_wrong_password_is_refused_with_one_message_and_no_session(url):
    client = httpx.Client(base_url=url)
    form = client.get("/signin")
    reply = client.post(
        "/signin", data={"email": "ops@acme.example", "password": "wrong password!", "csrf": csrf_of(form.text)}
    )
    assert reply.status_code == 401 and "do not match an active user" in reply.text
    assert client.get("/portal/ENT-100/").status_code == 303


def test_the_calendar_shows_the_users_own_maintenance_on_its_days(url):
    client = signed_in_client(url, "ops@acme.example")
    page = client.get("/portal/ENT-100/calendar", params={"view": "month", "start": "2026-12-01"}).text
    assert 'href="/portal/ENT-100/gcrs/GCR-1001"' in page and "01:00–05:00" in page  # America/Chicago
    assert "ACC-1001 · Acme Logistics" in page and 'aria-current="page">Calendar' in page
    assert "GCR-2001" not in page and "GCR-3001" not in page and "Globex" not in page and "GLBX" not in page
    week = client.get("/portal/ENT-100/calendar", params={"view": "week", "start": "2026-12-16"}).text
    assert "GCR-1001" not in week and "No maintenance windows in this week." in week


def test_the_calendar_of_another_customer_is_not_found_and_bad_dates_are_named(url):
    globex = signed_in_client(url, "noc@globex.example")
    page = globex.get("/portal/ACC-2002/calendar", params={"start": "2026-12-01"}).text
    assert "GCR-2001" in page and "GCR-1001" in page and "Acme" not in page and "ACME" not in page
    assert globex.get("/portal/ENT-100/calendar").status_code == 404
    assert globex.get("/portal/ACC-3003/calendar").status_code == 404
    bad = globex.get("/portal/ACC-2002/calendar", params={"view": "day", "start": "tomorrow"})
    assert bad.status_code == 422 and "view: must be week or month" in bad.text and "start: must be a date" in bad.text


def test_a_gcr_over_several_of_the_enterprises_accounts_is_one_entry_a_window(url, db, desk):
    with transaction(db) as session:
        enterprise = session.scalars(select(models.Customer).where(models.Customer.account == "ENT-100")).one()
        second = models.Customer(account="ACC-1005", name="Acme Freight", time_zone="UTC", parent=enterprise)
        session.add(models.Service(service_id="ACME-ETH-5", customer=second, product="Ethernet 1G", bandwidth="1G"))
    both = {**INITECH_ONLY, "number": "GCR-1005", "impacts": [{"service": "ACME-ETH-1"}, {"service": "ACME-ETH-5"}]}
    desk.publish(both)
    client = signed_in_client(url, "ops@acme.example")
    page = client.get("/portal/ENT-100/calendar", params={"start": "2026-12-04"}).text
    assert page.count('href="/portal/ENT-100/gcrs/GCR-1005"') == 1 and "2 accounts: ACC-1001, ACC-1005" in page


def test_signing_in_from_a_page_returns_to_it_and_never_leaves_the_site(url, db, clock):
    stranger = httpx.Client(base_url=url)
    sent = stranger.get("/portal/ENT-100/gcrs/GCR-1001")
    assert sent.status_code == 303
    assert sent.headers["location"] == "/signin?next=/portal/ENT-100/gcrs/GCR-1001"
    form = stranger.get(sent.headers["location"]).text
    assert 'name="next" value="/portal/ENT-100/gcrs/GCR-1001"' in form
    signed_in = stranger.post(
        "/signin",
        data={
            "email": "ops@acme.example",
            "password": PASSWORD,
            "csrf": csrf_of(form),
            "next": "/portal/ENT-100/gcrs/GCR-1001",
        },
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/portal/ENT-100/gcrs/GCR-1001"
    for hostile in ("https://evil.example/portal/", "//evil.example/portal/", "/portal/\\evil", "/manage/gcrs"):
        client = httpx.Client(base_url=url)
        form = client.get("/signin").text
        reply = client.post(
            "/signin", data={"email": "ops@acme.example", "password": PASSWORD, "csrf": csrf_of(form), "next": hostile}
        )
        assert reply.status_code == 303 and reply.headers["location"] == "/portal/", hostile
