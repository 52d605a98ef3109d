"""`changemgmt feeds ...` as an operator types it."""

from __future__ import annotations

import re

import pytest

from support.feeds import GCR, events

URL = re.compile(r"^(http://localhost:8000/calendars/([A-Za-z0-9_-]{43})\.ics)$", re.MULTILINE)


@pytest.fixture
def world(desk):
    desk.publish(GCR)


def feed(output: str, settings):
    url, token = URL.search(output).groups()
    return url, settings.calendars_dir / f"{token}.ics"


def test_url_creates_the_feed_and_prints_its_https_and_webcal_links(run, world, settings):
    output = run("feeds", "url", "ACC-1001")
    url, path = feed(output, settings)
    assert f"webcal://localhost:8000/calendars/{path.name}" in output
    assert sorted(events(path.read_bytes())) == ["GCR-1001-W1-ACC-1001@example.net", "GCR-1001-W2-ACC-1001@example.net"]
    assert feed(run("feeds", "url", "ACC-1001"), settings)[0] == url  # the same URL every time


def test_enterprise_and_internal_urls(run, world, settings):
    _, enterprise = feed(run("feeds", "url", "ENT-100", "--enterprise"), settings)
    _, internal = feed(run("feeds", "url", "--internal"), settings)
    assert len(events(enterprise.read_bytes())) == 2
    assert sorted(events(internal.read_bytes())) == ["GCR-1001-W1@example.net", "GCR-1001-W2@example.net"]
    assert "has no accounts below it" in run("feeds", "url", "ACC-2002", "--enterprise", expect=1)
    assert "no customer with account NOPE" in run("feeds", "url", "NOPE", expect=1)


def test_rotate_replaces_the_url_and_deletes_the_old_file(run, world, settings):
    _, old = feed(run("feeds", "url", "ACC-2002"), settings)
    output = run("feeds", "rotate", "ACC-2002")
    _, new = feed(output, settings)
    assert "the old URL no longer works" in output
    assert not old.exists() and new.exists() and new != old


def test_rebuild_writes_what_changed_and_all_on_request(run, world, settings):
    assert "written: 4 customer, 1 enterprise, 1 internal" in run("feeds", "rebuild", "--all")
    assert "written: 0 customer, 0 enterprise, 0 internal; unchanged: 6" in run("feeds", "rebuild", "--all")
    assert "written: 0 customer, 0 enterprise, 0 internal; unchanged: 0" in run("feeds", "rebuild")
    output = run("feeds", "rebuild", "--all", "--at", "2027-06-01T00:00Z")  # everything aged out
    assert "written: 2 customer, 1 enterprise, 1 internal" in output
