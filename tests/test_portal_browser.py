"""The portal in a real headless Chromium (Debian's, driven by Playwright): a customer user
with two enterprise IDs signs in to its default, switches, and sees only its own
maintenance; screenshots of the main pages at desktop and phone width go to
docs/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.axe import assert_accessible
from support.feeds import GCR
from support.portal import ACCOUNT, ENTERPRISE, PASSWORD, customer_user, portal_server

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
INITECH_ONLY = {
    "number": "GCR-3001",
    "title": "Houston access router swap",
    "description": "Router swap.",
    "windows": [{"start": "2026-12-04T07:00Z", "end": "2026-12-04T09:00Z"}],
    "impacts": [{"service": "INIT-ETH-9", "impact": "OUTAGE"}],
}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def test_a_user_with_two_enterprise_ids_signs_in_switches_and_sees_only_its_own(desk, db, clock, settings, browser):
    desk.publish(GCR)
    desk.publish(INITECH_ONLY)
    customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE), ("ACC-3003", ACCOUNT)], default="ENT-100")
    with portal_server(settings, clock) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/signin")
        _shoot(page, "signin")
        page.fill("#email", "ops@acme.example")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/portal/ENT-100/")
        text = page.inner_text("main")
        assert "GCR-1001" in text and "GCR-3001" not in text and "Globex" not in text
        _shoot(page, "portal-list")
        page.click("text=GCR-1001")
        page.wait_for_url(f"{url}/portal/ENT-100/gcrs/GCR-1001")
        text = page.inner_text("main")
        assert "ACME-ETH-1" in text and "GLBX-WAVE-1" not in text
        _shoot(page, "portal-gcr")
        page.select_option("#to", "ACC-3003")
        page.click("text=Switch")
        page.wait_for_url(f"{url}/portal/ACC-3003/")
        text = page.inner_text("main")
        assert "GCR-3001" in text and "GCR-1001" not in text
        page.goto(f"{url}/portal/ENT-100/subscribe")
        _shoot(page, "portal-subscribe")
        refused = page.request.post(f"{url}/portal/default", form={"root": "ACC-3003"})  # no CSRF token
        assert refused.status == 403
        assert page.request.get(f"{url}/portal/ACC-2002/").status == 404  # Globex's account


def _shoot(page, name: str) -> None:
    """The page at desktop width, then at a phone's (390 px), as PNGs, after axe-core finds
    nothing serious on it."""
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    # Two animation frames: a frame from another origin (a sandboxed email preview) is
    # painted at the new width only then; a screenshot taken at once shows it blank.
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)
